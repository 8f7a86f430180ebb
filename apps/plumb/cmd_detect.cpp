// plumb detect — is this text watermarked?  Single texts, or a JSONL corpus on all cores.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "command.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/tokenizer.h"
#include "plumb/watermark.h"
#include "watermark_options.h"

namespace plumb::app {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxInputBytes = size_t{1} << 30;  // one text (not JSONL) at most 1 GiB
constexpr size_t kBatchLines = 4096;

struct DetectArgs {
  std::string model;
  std::string tokenizer;
  bool ids = false;
  WatermarkCliOptions wm;
  double threshold = 4.0;
  bool binomial = false;
  bool winmax = false;
  std::string dedupe = "seed";
  double cache_mb = 0;  // 0: the library's default
  double min_entropy = 0;  // > 0: count only tokens the model predicted with at least this entropy
  bool normalize = false;
  bool jsonl = false;
  std::string field = "text";
  bool json_out = false;
  bool exit_code = false;
  int threads = 0;
  std::string input = "-";
};

Result<std::string> read_input(const std::string& path) {
  std::istream* in = &std::cin;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return Status::NotFound(path + ": cannot open for reading");
    in = &file;
  }
  std::string out;
  char buf[1 << 16];
  while (*in) {
    in->read(buf, sizeof buf);
    out.append(buf, static_cast<size_t>(in->gcount()));
    if (out.size() > kMaxInputBytes)
      return Status::InvalidArgument((path == "-" ? std::string("stdin") : path) +
                                     ": input larger than 1 GiB; split it, or use --jsonl for a corpus");
  }
  if (in->bad()) return Status::IOError((path == "-" ? std::string("stdin") : path) + ": read error");
  return out;
}

// Token ids separated by white space or commas; JSON-style brackets are allowed.
Result<std::vector<int32_t>> parse_ids(std::string_view text) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']') {
      ++i;
      continue;
    }
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
    if (ec != std::errc() || v < INT32_MIN || v > INT32_MAX) {
      const size_t stop = std::min(text.size(), i + 20);
      return Status::InvalidArgument("--ids: expected integer token ids separated by spaces or commas, found '" +
                                     std::string(text.substr(i, stop - i)) + "' at byte " + std::to_string(i));
    }
    out.push_back(static_cast<int32_t>(v));
    i = static_cast<size_t>(end - text.data());
  }
  return out;
}

// What one worker thread needs to turn a text into a verdict.
struct Scorer {
  const Tokenizer* tok = nullptr;  // null with --ids
  bool normalize = false;
  Detector detector;
  // With --min-entropy: this worker's own context on the model, and the threshold.
  std::shared_ptr<Context> ctx;
  double min_entropy = 0;
  TokenId bos = -1;

  // Tokens the model predicted with less than min_entropy nats are left out of the count.
  Result<DetectResult> score(std::span<const int32_t> ids) {
    if (ctx == nullptr) return detector.detect(ids);
    // A leading BOS is the prefix the model starts from, not a token to predict.
    const bool has_bos = !ids.empty() && bos >= 0 && ids.front() == bos;
    PLUMB_ASSIGN_OR_RETURN(std::vector<float> h, next_token_entropies(*ctx, ids.subspan(has_bos ? 1 : 0), bos));
    std::vector<uint8_t> exclude(ids.size(), 0);
    for (size_t i = 0; i < h.size(); ++i) exclude[i + (has_bos ? 1 : 0)] = h[i] < min_entropy ? 1 : 0;
    return detector.detect(ids, exclude);
  }

  Result<std::vector<int32_t>> tokens_of(std::string_view text) const {
    if (tok == nullptr) return parse_ids(text);
    std::string normalized;
    if (normalize) {
      PLUMB_ASSIGN_OR_RETURN(normalized, watermark_normalize(text));
      text = normalized;
    }
    TokenizeOptions opts;
    opts.add_special = false;
    opts.parse_special = false;
    return tok->tokenize(text, opts);
  }
};

json summary_json(const DetectResult& r, const Watermark& wm, const DetectArgs& a) {
  json j;
  j["scored"] = r.scored;
  if (!r.scored) j["message"] = r.message;
  j["detected"] = r.detected;
  j["num_tokens"] = r.num_tokens;
  if (r.scored) {
    j["z"] = r.z;
    j["p_value"] = r.p_value;
    if (r.binomial_p) j["binomial_p"] = *r.binomial_p;
    j["num_scored"] = r.num_scored;
    j["num_green"] = r.num_green;
    j["green_fraction"] = r.green_fraction;
    if (a.min_entropy > 0) j["num_excluded"] = r.num_excluded;
    if (r.winmax_z) j["winmax"] = {{"z", *r.winmax_z}, {"window", r.winmax_window}, {"calibrated", false}};
    // What the reference detector reports (each distinct n-gram once), whatever --dedupe says.
    j["reference"] = {{"scored", r.reference.num_scored},
                      {"green", r.reference.num_green},
                      {"z", r.reference.z},
                      {"p", r.reference.p_value}};
  }
  return j;
}

json full_json(const DetectResult& r, std::span<const int32_t> ids, const Watermark& wm, const DetectArgs& a,
               const Tokenizer* tok) {
  json j = summary_json(r, wm, a);
  j["threshold"] = a.threshold;
  j["scheme"] = std::string(watermark_scheme_name(wm.config().scheme));
  j["gamma"] = wm.config().gamma;
  j["vocab_size"] = wm.vocab_size();
  j["dedupe"] = a.dedupe;
  // The detector dropped a leading BOS; align the mask with the ids it scored.
  const size_t skip = ids.size() - r.mask.size();
  json tokens = json::array();
  for (size_t i = 0; i < r.mask.size(); ++i) {
    json t;
    t["id"] = ids[skip + i];
    if (tok != nullptr) t["text"] = tok->token_to_piece(ids[skip + i]);
    t["green"] = r.mask[i] < 0 ? json(nullptr) : json(r.mask[i] == 1);
    if (r.repeated[i]) t["repeated"] = true;
    if (r.excluded[i]) t["excluded"] = true;
    tokens.push_back(std::move(t));
  }
  j["tokens"] = std::move(tokens);
  return j;
}

void print_colored_tokens(const DetectResult& r, std::span<const int32_t> ids, const Tokenizer* tok) {
  const size_t skip = ids.size() - r.mask.size();
  std::string out;
  for (size_t i = 0; i < r.mask.size(); ++i) {
    const int8_t m = r.mask[i];
    out += m < 0 ? "\033[2m" : m == 1 ? "\033[32m" : "\033[31m";
    if (r.repeated[i]) out += "\033[4m";  // underlined: a repeat (per --dedupe), not counted
    if (r.excluded[i]) out += "\033[2m";  // dim: excluded by --min-entropy
    if (tok != nullptr) {
      out += tok->token_to_piece(ids[skip + i]);
    } else {
      if (i) out += ' ';
      out += std::to_string(ids[skip + i]);
    }
    out += "\033[0m";
  }
  std::printf("%s\n\n", out.c_str());
}

void print_human(const std::string& name, const DetectResult& r, const Watermark& wm, const DetectArgs& a) {
  if (!r.scored) {
    std::printf("%s: %s\n", name.c_str(), r.message.c_str());
    return;
  }
  const bool color = stdout_is_terminal();
  const char* on = color ? (r.detected ? "\033[1;32m" : "\033[1m") : "";
  const char* off = color ? "\033[0m" : "";
  char binomial[64] = "";
  if (r.binomial_p) std::snprintf(binomial, sizeof binomial, ", exact binomial p = %.3g", *r.binomial_p);
  std::printf("%s: %s%s%s: z = %.2f %s %.2f, p = %.3g (normal tail)%s\n", name.c_str(), on,
              r.detected ? "watermark detected" : "no watermark detected", off, r.z, r.detected ? ">" : "<=",
              a.threshold, r.p_value, binomial);
  std::printf("  %lld tokens, %lld scored (%s, %s), %lld green = %.1f%% (%.1f%% expected without a watermark)\n",
              static_cast<long long>(r.num_tokens), static_cast<long long>(r.num_scored),
              std::string(watermark_scheme_name(wm.config().scheme)).c_str(),
              a.dedupe == "none"   ? "every n-gram"
              : a.dedupe == "seed" ? "each seed+token once"
                                   : "each n-gram once", static_cast<long long>(r.num_green),
              100.0 * r.green_fraction, 100.0 * wm.config().gamma);
  if (a.min_entropy > 0)
    std::printf("  %lld tokens not counted: the model predicted them with entropy < %.2f nats (--min-entropy)\n",
                static_cast<long long>(r.num_excluded), a.min_entropy);
  if (r.reference.num_scored != r.num_scored || r.reference.num_green != r.num_green)
    std::printf("  reference scoring (lm-watermarking, each distinct n-gram once; --dedupe ngram): %lld scored, "
                "%lld green, z = %.2f, p = %.3g\n",
                static_cast<long long>(r.reference.num_scored), static_cast<long long>(r.reference.num_green),
                r.reference.z, r.reference.p_value);
  if (r.winmax_z)
    std::printf("  WinMax z = %.2f (best window: %lld tokens). Uncalibrated: compare with known human text, not with "
                "the threshold\n",
                *r.winmax_z, static_cast<long long>(r.winmax_window));
}

int run_single(const DetectArgs& a, Scorer& s) {
  auto text = read_input(a.input);
  if (!text.ok()) {
    print_error("detect", text.status().message());
    return text.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
  }
  auto ids = s.tokens_of(*text);
  if (!ids.ok()) {
    print_error("detect", ids.status().message());
    return kExitError;
  }
  auto scored = s.score(*ids);
  if (!scored.ok()) {
    print_error("detect", scored.status().message());
    return kExitError;
  }
  const DetectResult& r = *scored;
  const Watermark& wm = s.detector.watermark();
  if (a.json_out) {
    std::printf("%s\n", full_json(r, *ids, wm, a, s.tok).dump().c_str());
  } else {
    if (stdout_is_terminal()) print_colored_tokens(r, *ids, s.tok);
    print_human(a.input == "-" ? "stdin" : a.input, r, wm, a);
  }
  return (a.exit_code && r.detected) ? kExitDetected : kExitOk;
}

// One JSONL line -> one JSONL result line.
std::string score_line(const std::string& line, size_t line_no, const DetectArgs& a, Scorer& s, bool& detected,
                       bool& failed) {
  json out;
  out["line"] = line_no;
  auto fail = [&](const std::string& msg) {
    out["error"] = msg;
    failed = true;
    return out.dump();
  };
  json in = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded()) return fail("not valid JSON");
  if (in.is_object() && in.contains("id")) out["id"] = in["id"];
  const json* value = in.is_object() && in.contains(a.field) ? &in[a.field] : nullptr;
  Result<std::vector<int32_t>> ids = Status::InvalidArgument("");
  if (value == nullptr) return fail("no field \"" + a.field + "\" (choose it with --field)");
  if (value->is_string()) {
    ids = s.tokens_of(value->get_ref<const std::string&>());
  } else if (value->is_array() && s.tok == nullptr) {
    std::vector<int32_t> v;
    for (const auto& e : *value) {
      if (!e.is_number_integer()) return fail("field \"" + a.field + "\": expected an array of integer ids");
      const auto x = e.get<int64_t>();
      if (x < INT32_MIN || x > INT32_MAX) return fail("field \"" + a.field + "\": id out of range");
      v.push_back(static_cast<int32_t>(x));
    }
    ids = std::move(v);
  } else {
    return fail("field \"" + a.field + "\": expected a string" + (s.tok == nullptr ? " or an array of ids" : ""));
  }
  if (!ids.ok()) return fail(ids.status().message());
  auto scored = s.score(*ids);
  if (!scored.ok()) return fail(scored.status().message());
  const DetectResult& r = *scored;
  detected = r.detected;
  out.update(summary_json(r, s.detector.watermark(), a));
  return out.dump();
}

unsigned jsonl_threads(const DetectArgs& a) {
  return a.threads > 0 ? static_cast<unsigned>(a.threads) : std::max(1u, std::thread::hardware_concurrency());
}

int run_jsonl(const DetectArgs& a, const Scorer& proto) {
  std::istream* in = &std::cin;
  std::ifstream file;
  if (a.input != "-") {
    file.open(a.input, std::ios::binary);
    if (!file) {
      print_error("detect", a.input + ": cannot open for reading");
      return kExitNotFound;
    }
    in = &file;
  }
  const unsigned n_threads = jsonl_threads(a);
  std::vector<Scorer> scorers(n_threads, proto);
  if (proto.ctx != nullptr) {
    // One single-threaded context per worker (the texts are the parallelism); the first worker
    // keeps the one run_detect made (single-threaded with --jsonl).
    ContextParams cp;
    cp.n_ctx = proto.ctx->n_ctx();
    cp.n_threads = 1;
    for (size_t i = 1; i < scorers.size(); ++i) {
      auto c = Context::create(proto.ctx->model(), cp);
      if (!c.ok()) {
        print_error("detect", c.status().message());
        return kExitError;
      }
      scorers[i].ctx = std::shared_ptr<Context>(std::move(*c));
    }
  }
  std::vector<std::string> lines, results;
  size_t line_no = 0, n_detected = 0, n_failed = 0, n_scored = 0;
  std::string line;
  bool eof = false;
  while (!eof) {
    lines.clear();
    const size_t first_line = line_no + 1;
    while (lines.size() < kBatchLines) {
      if (!std::getline(*in, line)) {
        eof = true;
        break;
      }
      ++line_no;
      lines.push_back(std::move(line));
    }
    // Blank lines are skipped but keep their numbers.
    results.assign(lines.size(), std::string());
    std::vector<uint8_t> detected(lines.size(), 0), failed(lines.size(), 0), blank(lines.size(), 0);
    std::atomic<size_t> next{0};
    auto work = [&](Scorer& s) {
      for (size_t i; (i = next.fetch_add(1)) < lines.size();) {
        if (lines[i].find_first_not_of(" \t\r") == std::string::npos) {
          blank[i] = 1;
          continue;
        }
        bool d = false, f = false;
        results[i] = score_line(lines[i], first_line + i, a, s, d, f);
        detected[i] = d;
        failed[i] = f;
      }
    };
    const unsigned use = static_cast<unsigned>(std::min<size_t>(n_threads, std::max<size_t>(1, lines.size() / 16)));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < use; ++t) pool.emplace_back(work, std::ref(scorers[t]));
    work(scorers[0]);
    for (auto& t : pool) t.join();
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (blank[i]) continue;
      out += results[i];
      out += '\n';
      n_detected += detected[i];
      n_failed += failed[i];
      n_scored += !failed[i];
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  std::fflush(stdout);
  if (in->bad()) {
    print_error("detect", a.input + ": read error");
    return kExitError;
  }
  std::fprintf(stderr, "plumb detect: %zu texts, %zu detected, %zu failed\n", n_scored, n_detected, n_failed);
  if (n_failed > 0) return kExitError;
  return (a.exit_code && n_detected > 0) ? kExitDetected : kExitOk;
}

int run_detect(const DetectArgs& a) {
  std::unique_ptr<Tokenizer> tok;
  const int sources = !a.model.empty() + !a.tokenizer.empty() + (a.ids && a.model.empty());
  if (sources != 1) {
    print_error("detect", "give exactly one of -m MODEL.gguf, --tokenizer FILE, or --ids (--ids may go with -m)");
    return kExitUsage;
  }
  if (a.min_entropy > 0 && a.model.empty()) {
    print_error("detect", "--min-entropy needs the model itself (-m MODEL.gguf) to know what it predicted");
    return kExitUsage;
  }
  std::unique_ptr<Model> model;
  std::shared_ptr<Context> ctx;
  if (a.min_entropy > 0) {
    auto m = Model::load(a.model);
    if (!m.ok()) {
      print_error("detect", m.status().message());
      return m.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
    }
    model = std::move(*m);
    ContextParams cp;
    cp.n_threads = a.jsonl ? 1 : a.threads;
    auto c = Context::create(*model, cp);
    if (!c.ok()) {
      print_error("detect", c.status().message());
      return kExitError;
    }
    ctx = std::shared_ptr<Context>(std::move(*c));
  }
  if (!a.model.empty() || !a.tokenizer.empty()) {
    auto t = a.model.empty() ? Tokenizer::from_path(a.tokenizer) : Tokenizer::from_gguf_path(a.model);
    if (!t.ok()) {
      print_error("detect", t.status().message());
      return t.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
    }
    tok = std::move(*t);
  }
  if (a.ids && tok == nullptr && a.wm.vocab_size <= 0) {
    print_error("detect", "--ids needs --wm-vocab-size (the generating tokenizer's vocabulary size)");
    return kExitUsage;
  }
  if (!a.wm.enabled())
    std::fprintf(stderr,
                 "plumb detect: note: no --wm-key given; using the reference's public default key %lld\n",
                 static_cast<long long>(kDefaultWatermarkKey));
  auto cfg = a.wm.to_config();
  if (!cfg.ok()) {
    print_error("detect", cfg.status().message());
    return kExitUsage;
  }
  DetectOptions opts;
  opts.z_threshold = a.threshold;
  opts.binomial = a.binomial;
  opts.winmax = a.winmax;
  opts.ignore_repeated_ngrams = a.dedupe != "none";
  opts.dedupe_by_seed = a.dedupe == "seed";
  opts.bos_id = tok ? tok->bos() : -1;
  if (a.cache_mb > 0) {
    opts.cache_bytes = static_cast<size_t>(a.cache_mb * 1048576.0);
  } else if (a.jsonl) {
    // Each worker has its own cache: the library's 16,384 lists each up to 4 workers, then
    // 1 GiB shared out, but never under 4,096 lists a worker.
    const int32_t v = cfg->vocab_size > 0 ? cfg->vocab_size : (tok ? tok->n_vocab() : 0);
    const size_t list = (static_cast<size_t>(std::max(v, 0)) + 63) / 64 * 8;
    opts.cache_bytes = std::clamp((size_t{1} << 30) / jsonl_threads(a), 4096 * list, 16384 * list);
  }
  auto det = Detector::create(*cfg, tok ? tok->n_vocab() : 0, opts);
  if (!det.ok()) {
    print_error("detect", det.status().message());
    return kExitUsage;
  }
  Scorer scorer{a.ids ? nullptr : tok.get(), a.normalize, std::move(*det), ctx, a.min_entropy,
                tok ? tok->bos() : -1};
  return a.jsonl ? run_jsonl(a, scorer) : run_single(a, scorer);
}

const CommandRegistration kRegistration{
    "detect", 40, "Detect a watermark in text (or token ids): z-score, p-value, per-token green mask",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<DetectArgs>();
      sub.add_option("input", a->input, "text file, JSONL file with --jsonl, or - for stdin")->capture_default_str();
      sub.add_option("-m,--model", a->model, "GGUF model whose tokenizer generated the text");
      sub.add_option("--tokenizer", a->tokenizer, "tokenizer.json (Hugging Face) or a vocab-only GGUF");
      sub.add_flag("--ids", a->ids, "input is token ids (spaces/commas), not text; needs --wm-vocab-size");
      add_watermark_options(sub, a->wm, /*generation=*/false);
      sub.add_option("--threshold", a->threshold, "verdict: watermarked when z > threshold")->capture_default_str();
      sub.add_flag("--binomial", a->binomial, "also report the exact binomial p-value (better for short texts)");
      sub.add_flag("--winmax", a->winmax,
                   "also report WinMax, the best z over all windows (finds a marked span inside human text; "
                   "uncalibrated: its z is not a p-value)");
      sub.add_option("--dedupe", a->dedupe,
                     "which repeats count once. seed (default): each distinct (green-list seed, token) pair; "
                     "ngram: each distinct n-gram, the reference's rule, giving exactly its numbers; none: every "
                     "token. Why the default differs: selfhash seeds are self-salted, and about 1/4 of the time "
                     "the min is at the candidate itself, so the seed depends on the token alone and repeats of a "
                     "frequent token share one coin flip; n-gram dedupe does not catch that, and human prose then "
                     "scores z > 4 in ~0.6% of 200-token windows instead of ~0.003% (minhash/skipgram seeds "
                     "repeat too). For lefthash (odd key) "
                     "and hash/hash4 seed and ngram count the same. The reference's figures are always shown "
                     "too (--json: \"reference\"). See docs/watermark.md")
          ->check(CLI::IsMember({"ngram", "seed", "none"}))
          ->capture_default_str();
      sub.add_option("--min-entropy", a->min_entropy,
                     "selective detection: count only tokens the model (-m) predicted with at least this entropy "
                     "(nats). Tokens the model was nearly sure of carry almost no watermark (delta cannot move "
                     "them) but still dilute z; leaving them out raises z on marked text from low-entropy models "
                     "while human text stays calibrated (the choice depends on the text and model, not the key). "
                     "Runs the model over the text. 0 (default): no token is left out, as in the reference. "
                     "Try 0.5; see docs/watermark.md")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--wm-cache-mb", a->cache_mb,
                     "memory per worker thread for cached green lists (lefthash, minhash, skipgram: one list per "
                     "seed, V/8 bytes). Default: 16,384 lists (64 MiB at V = 32k, 256 MiB at V = 128k), taken "
                     "only as lists are built; with --jsonl at most 1 GiB over all workers (at least 4,096 lists "
                     "each)")
          ->check(CLI::PositiveNumber);
      sub.add_flag("--normalize", a->normalize,
                   "normalise text as the reference detector does by default: Unicode NFC, odd/invisible spaces "
                   "to spaces, collapse spaces, drop control characters (newlines too). Off by default because it "
                   "changes the tokens (generated newlines vanish): use it to reproduce the reference's verdicts "
                   "on text, or when text went through an editor or copy-paste that rewrote characters");
      sub.add_flag("--jsonl", a->jsonl, "input is JSONL, one text per line; output is JSONL, one result per line");
      sub.add_option("--field", a->field, "JSONL field holding the text (or an id array with --ids)")
          ->capture_default_str();
      sub.add_option("-t,--threads", a->threads, "worker threads for --jsonl (default: all cores)");
      sub.add_flag("--json", a->json_out, "full result as JSON, with every token's id, text and colour");
      sub.add_flag("--exit-code", a->exit_code, "exit with 10 when a watermark is detected (any line with --jsonl)");
      sub.footer(
          "The text is tokenized without special tokens (a leading BOS is dropped), then each token is\n"
          "scored against the green list its context selects; z = (G - gamma T) / sqrt(T gamma (1-gamma)).\n"
          "Use the same tokenizer, key, gamma and scheme as when generating. lefthash/selfhash/minhash/\n"
          "skipgram match the reference lm-watermarking code run with its generator on the CPU.\n"
          "On a terminal the tokens are shown green/red (dim: not scored, underlined: a repeat, not counted).\n\n"
          "Examples:\n"
          "  plumb detect -m model.gguf --wm-key 1234567 essay.txt\n"
          "  plumb detect --tokenizer tokenizer.json --wm-key 1234567 --wm-scheme lefthash --json - < out.txt\n"
          "  echo '17 2041 318 262 1266' | plumb detect --ids --wm-vocab-size 32000 --wm-key 1234567 --wm-scheme lefthash\n"
          "  plumb detect -m model.gguf --wm-key 1234567 --jsonl --field body corpus.jsonl > scores.jsonl\n"
          "  plumb detect -m model.gguf --wm-key 1234567 --dedupe ngram essay.txt   # the reference's z\n"
          "  plumb detect -m model.gguf --ids --wm-key 1234567 --min-entropy 0.5 ids.txt   # selective\n\n"
          "Exit codes: 0 done (detected or not), 1 failure (also: some JSONL lines failed), 2 bad usage,\n"
          "3 file not found, 10 watermark detected (only with --exit-code).");
      return [a] { return run_detect(*a); };
    }};

}  // namespace
}  // namespace plumb::app
