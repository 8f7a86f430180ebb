// plumb wm-eval — the paper's evaluation: generate with and without the watermark, score,
// and attack (token substitution, copy-paste dilution).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "command.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "plumb/tokenizer.h"
#include "plumb/watermark.h"
#include "watermark_options.h"

namespace plumb::app {
namespace {

using json = nlohmann::ordered_json;

struct EvalArgs {
  std::string model;
  std::string prompts;
  int n_predict = 200;
  std::vector<double> deltas = {1, 2, 5, 10};
  std::vector<double> gammas = {0.25, 0.5};
  std::vector<double> substitutions = {0.1, 0.3};
  std::vector<double> dilutions = {0.25, 0.5};
  WatermarkCliOptions wm;
  float temperature = 1.0f;
  uint32_t seed = 1;
  int threads = 0;
  int limit = 0;
  bool csv = false;
  bool json_out = false;
  double min_entropy = 0;  // > 0: also score selectively (plumb detect --min-entropy)
};

// One condition's scores over all prompts.
struct Row {
  double gamma = 0, delta = 0;
  std::string condition;
  std::vector<double> z, winmax;
  std::vector<double> selective_z;  // with --min-entropy
  double logprob_sum = 0;
  int64_t logprob_count = 0;  // 0: perplexity not applicable (attacked texts)
  int not_scored = 0;
};

Row make_row(double gamma, double delta, std::string condition) {
  Row r;
  r.gamma = gamma;
  r.delta = delta;
  r.condition = std::move(condition);
  return r;
}

struct Generation {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
};

Result<std::vector<std::string>> read_prompts(const std::string& path, int limit) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open the prompts file");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.push_back(line);
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
  }
  if (out.empty()) return Status::InvalidArgument(path + ": no prompts (one per line expected)");
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / static_cast<double>(v.size());
}

double fraction_over(const std::vector<double>& v, double t) {
  if (v.empty()) return NAN;
  return static_cast<double>(std::count_if(v.begin(), v.end(), [t](double x) { return x > t; })) /
         static_cast<double>(v.size());
}

json row_json(const Row& r) {
  json j;
  j["gamma"] = r.gamma;
  j["delta"] = r.delta;
  j["condition"] = r.condition;
  j["n"] = r.z.size();
  j["mean_z"] = mean(r.z);
  j["rate_z_gt_4"] = fraction_over(r.z, 4.0);
  j["mean_winmax_z"] = mean(r.winmax);
  j["rate_winmax_gt_4"] = fraction_over(r.winmax, 4.0);
  if (!r.selective_z.empty()) {
    j["selective_mean_z"] = mean(r.selective_z);
    j["selective_rate_z_gt_4"] = fraction_over(r.selective_z, 4.0);
  }
  j["perplexity"] = r.logprob_count > 0 ? json(std::exp(-r.logprob_sum / static_cast<double>(r.logprob_count)))
                                        : json(nullptr);
  j["not_scored"] = r.not_scored;
  return j;
}

int run_eval(const EvalArgs& a) {
  auto prompts = read_prompts(a.prompts, a.limit);
  if (!prompts.ok()) {
    print_error("wm-eval", prompts.status().message());
    return prompts.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
  }
  auto model = Model::load(a.model);
  if (!model.ok()) {
    print_error("wm-eval", model.status().message());
    return model.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
  }
  auto tok = Tokenizer::from_gguf((*model)->file());
  if (!tok.ok()) {
    print_error("wm-eval", tok.status().message());
    return kExitError;
  }
  ContextParams cp;
  cp.n_threads = a.threads;
  auto ctx = Context::create(**model, cp);
  if (!ctx.ok()) {
    print_error("wm-eval", ctx.status().message());
    return kExitError;
  }
  auto base = a.wm.to_config();
  if (!base.ok()) {
    print_error("wm-eval", base.status().message());
    return kExitUsage;
  }
  const int32_t vocab = (*tok)->n_vocab();

  // Generates a continuation of prompt `p` with sampling seed a.seed + p, optionally marked.
  auto generate_one = [&](size_t p, const WatermarkConfig* cfg) -> Result<Generation> {
    SamplingParams sp;
    sp.temperature = a.temperature;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    sp.seed = a.seed + static_cast<uint32_t>(p);
    auto chain = make_sampler_chain(sp);
    if (cfg != nullptr) {
      PLUMB_ASSIGN_OR_RETURN(auto stage, make_watermark_stage(*cfg, vocab));
      chain->insert(logit_stage_index(sp), std::move(stage));
    }
    TokenizeOptions to;
    to.add_special = true;
    const auto prompt = (*tok)->tokenize((*prompts)[p], to);
    (*ctx)->truncate(0);
    GenerateOptions go;
    go.n_predict = a.n_predict;
    go.stop_at_eog = false;  // equal lengths, as in the paper's fixed-T evaluation
    PLUMB_ASSIGN_OR_RETURN(GenerateResult g, generate(**ctx, tok->get(), *chain, prompt, go));
    return Generation{std::move(g.tokens), std::move(g.logprobs)};
  };

  std::vector<Generation> plain;
  for (size_t p = 0; p < prompts->size(); ++p) {
    auto g = generate_one(p, nullptr);
    if (!g.ok()) {
      print_error("wm-eval", g.status().message());
      return kExitError;
    }
    plain.push_back(std::move(*g));
  }

  // With --min-entropy: which tokens a selective detector leaves out of `ids`, from the model
  // run over BOS + the text (what a detector sees).  The unmarked texts' masks do not depend on
  // gamma, so they are computed once, here.
  auto exclusion = [&](const std::vector<int32_t>& ids) -> Result<std::vector<uint8_t>> {
    PLUMB_ASSIGN_OR_RETURN(std::vector<float> h, next_token_entropies(**ctx, ids, (*tok)->bos()));
    std::vector<uint8_t> exclude(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) exclude[i] = h[i] < a.min_entropy ? 1 : 0;
    return exclude;
  };
  std::vector<std::vector<uint8_t>> plain_exclude(plain.size());
  for (size_t p = 0; p < plain.size() && a.min_entropy > 0; ++p) {
    auto e = exclusion(plain[p].ids);
    if (!e.ok()) {
      print_error("wm-eval", e.status().message());
      return kExitError;
    }
    plain_exclude[p] = std::move(*e);
  }

  std::vector<Row> rows;
  std::mt19937 attack_rng(a.seed);
  for (double gamma : a.gammas) {
    WatermarkConfig cfg = *base;
    cfg.gamma = gamma;
    DetectOptions dopts;
    dopts.winmax = true;
    auto det = Detector::create(cfg, vocab, dopts);
    if (!det.ok()) {
      print_error("wm-eval", det.status().message());
      return kExitUsage;
    }
    // Scores the text as `plumb detect` would; with --min-entropy also selectively (`known`:
    // the text's exclusion mask when already computed).
    auto score = [&](Row& row, const std::vector<int32_t>& ids, const std::vector<uint8_t>* known) -> Status {
      const auto r = det->detect(ids);
      if (!r.scored) {
        ++row.not_scored;
        return Status::Ok();
      }
      row.z.push_back(r.z);
      if (r.winmax_z) row.winmax.push_back(*r.winmax_z);
      if (a.min_entropy > 0) {
        std::vector<uint8_t> computed;
        if (known == nullptr) {
          PLUMB_ASSIGN_OR_RETURN(computed, exclusion(ids));
          known = &computed;
        }
        const auto sel = det->detect(ids, *known);
        if (sel.scored) row.selective_z.push_back(sel.z);
      }
      return Status::Ok();
    };
    auto score_or_fail = [&](Row& row, const std::vector<int32_t>& ids, const std::vector<uint8_t>* known = nullptr) {
      const Status st = score(row, ids, known);
      if (!st.ok()) print_error("wm-eval", st.message());
      return st.ok();
    };
    Row unmarked = make_row(gamma, 0, "unwatermarked");
    for (size_t p = 0; p < plain.size(); ++p) {
      if (!score_or_fail(unmarked, plain[p].ids, &plain_exclude[p])) return kExitError;
      for (float lp : plain[p].logprobs) unmarked.logprob_sum += lp;
      unmarked.logprob_count += static_cast<int64_t>(plain[p].logprobs.size());
    }
    rows.push_back(unmarked);
    for (double delta : a.deltas) {
      cfg.delta = delta;
      Row marked = make_row(gamma, delta, "watermarked");
      std::vector<Row> subs, dils;
      for (double e : a.substitutions) subs.push_back(make_row(gamma, delta, "substitute " + std::to_string(e).substr(0, 4)));
      for (double f : a.dilutions) dils.push_back(make_row(gamma, delta, "dilute " + std::to_string(f).substr(0, 4)));
      for (size_t p = 0; p < prompts->size(); ++p) {
        auto g = generate_one(p, &cfg);
        if (!g.ok()) {
          print_error("wm-eval", g.status().message());
          return kExitError;
        }
        if (!score_or_fail(marked, g->ids)) return kExitError;
        for (float lp : g->logprobs) marked.logprob_sum += lp;
        marked.logprob_count += static_cast<int64_t>(g->logprobs.size());
        // Random token substitution of a fraction e of the positions.
        for (size_t i = 0; i < a.substitutions.size(); ++i) {
          auto ids = g->ids;
          const auto k = static_cast<size_t>(std::lround(a.substitutions[i] * static_cast<double>(ids.size())));
          std::vector<size_t> pos(ids.size());
          for (size_t j = 0; j < pos.size(); ++j) pos[j] = j;
          std::shuffle(pos.begin(), pos.end(), attack_rng);
          for (size_t j = 0; j < k && j < pos.size(); ++j)
            ids[pos[j]] = static_cast<int32_t>(attack_rng() % static_cast<uint32_t>(vocab));
          if (!score_or_fail(subs[i], ids)) return kExitError;
        }
        // Copy-paste: a marked span of fraction f in the middle of unmarked text of the same length.
        for (size_t i = 0; i < a.dilutions.size(); ++i) {
          const auto& u = plain[p].ids;
          const size_t n = std::min(u.size(), g->ids.size());
          const auto span = static_cast<size_t>(std::lround(a.dilutions[i] * static_cast<double>(n)));
          const size_t start = (n - span) / 2;
          std::vector<int32_t> ids(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(n));
          std::copy(g->ids.begin() + static_cast<std::ptrdiff_t>(start),
                    g->ids.begin() + static_cast<std::ptrdiff_t>(start + span),
                    ids.begin() + static_cast<std::ptrdiff_t>(start));
          if (!score_or_fail(dils[i], ids)) return kExitError;
        }
      }
      rows.push_back(marked);
      rows.insert(rows.end(), subs.begin(), subs.end());
      rows.insert(rows.end(), dils.begin(), dils.end());
    }
  }

  if (a.json_out) {
    json j;
    j["model"] = a.model;
    j["prompts"] = prompts->size();
    j["n_predict"] = a.n_predict;
    j["scheme"] = std::string(watermark_scheme_name(base->scheme));
    j["threshold"] = 4.0;
    j["winmax_calibrated"] = false;
    if (a.min_entropy > 0) j["min_entropy"] = a.min_entropy;
    j["rows"] = json::array();
    for (const auto& r : rows) j["rows"].push_back(row_json(r));
    std::printf("%s\n", j.dump(2).c_str());
  } else if (a.csv) {
    std::printf("gamma,delta,condition,n,mean_z,rate_z_gt_4,mean_winmax_z,rate_winmax_gt_4,perplexity%s\n",
                a.min_entropy > 0 ? ",selective_mean_z,selective_rate_z_gt_4" : "");
    for (const auto& r : rows) {
      const json j = row_json(r);
      std::printf("%g,%g,%s,%zu,%.4f,%.4f,%.4f,%.4f,%s", r.gamma, r.delta, r.condition.c_str(), r.z.size(),
                  mean(r.z), fraction_over(r.z, 4), mean(r.winmax), fraction_over(r.winmax, 4),
                  j["perplexity"].is_null() ? "" : std::to_string(j["perplexity"].get<double>()).c_str());
      if (a.min_entropy > 0) std::printf(",%.4f,%.4f", mean(r.selective_z), fraction_over(r.selective_z, 4));
      std::printf("\n");
    }
  } else {
    std::printf("%zu prompts, %d new tokens each, scheme %s, z threshold 4 (WinMax uncalibrated)\n",
                prompts->size(), a.n_predict, std::string(watermark_scheme_name(base->scheme)).c_str());
    std::printf("%-6s %-6s %-16s %5s %8s %8s %10s %10s %10s%s\n", "gamma", "delta", "condition", "n", "mean z",
                "z>4", "WinMax z", "WinMax>4", "ppl", a.min_entropy > 0 ? "    sel z  sel z>4" : "");
    for (const auto& r : rows) {
      const json j = row_json(r);
      char ppl[32] = "-";
      if (!j["perplexity"].is_null()) std::snprintf(ppl, sizeof ppl, "%.2f", j["perplexity"].get<double>());
      std::printf("%-6g %-6g %-16s %5zu %8.2f %7.1f%% %10.2f %9.1f%% %10s", r.gamma, r.delta, r.condition.c_str(),
                  r.z.size(), mean(r.z), 100 * fraction_over(r.z, 4), mean(r.winmax),
                  100 * fraction_over(r.winmax, 4), ppl);
      if (a.min_entropy > 0) std::printf(" %8.2f %7.1f%%", mean(r.selective_z), 100 * fraction_over(r.selective_z, 4));
      std::printf("\n");
    }
    std::printf("TPR = z>4 of watermarked rows; FPR = z>4 of the unwatermarked row. ppl: perplexity of the outputs "
                "under the model without the watermark.\n");
    if (a.min_entropy > 0)
      std::printf("sel: selective detection, counting only tokens the model predicted with entropy >= %.2f nats "
                  "(plumb detect --min-entropy).\n",
                  a.min_entropy);
  }
  return kExitOk;
}

const CommandRegistration kRegistration{
    "wm-eval", 41, "Evaluate the watermark: z, TPR/FPR at z = 4, perplexity, and attacks, as in the paper",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<EvalArgs>();
      sub.add_option("-m,--model", a->model, "GGUF model")->required();
      sub.add_option("--prompts", a->prompts, "text file, one prompt per line")->required();
      sub.add_option("-n,--n-predict", a->n_predict, "new tokens per generation")->capture_default_str();
      sub.add_option("--deltas", a->deltas, "comma-separated deltas")->delimiter(',')->capture_default_str();
      sub.add_option("--gammas", a->gammas, "comma-separated gammas")->delimiter(',')->capture_default_str();
      sub.add_option("--substitute", a->substitutions,
                     "attack: fractions of tokens replaced by random ids (comma-separated)")
          ->delimiter(',')
          ->capture_default_str();
      sub.add_option("--dilute", a->dilutions,
                     "attack: fractions of marked text pasted into unmarked text (comma-separated)")
          ->delimiter(',')
          ->capture_default_str();
      add_watermark_options(sub, a->wm, /*generation=*/false);
      sub.add_option("--temp", a->temperature, "sampling temperature (multinomial, no truncation)")
          ->capture_default_str();
      sub.add_option("--seed", a->seed, "sampling seed of the first prompt (prompt i uses seed + i)")
          ->capture_default_str();
      sub.add_option("-t,--threads", a->threads, "engine threads (default: all cores)");
      sub.add_option("--limit", a->limit, "use only the first N prompts");
      sub.add_option("--min-entropy", a->min_entropy,
                     "also score selectively, as plumb detect --min-entropy: only tokens the model predicted with at "
                     "least this entropy (nats) count; adds the columns sel z / sel z>4")
          ->check(CLI::NonNegativeNumber);
      sub.add_flag("--csv", a->csv, "CSV output, one row per condition");
      sub.add_flag("--json", a->json_out, "JSON output");
      sub.footer(
          "For each prompt: one continuation without the watermark, and one per (gamma, delta) with it;\n"
          "each scored with plain z and WinMax, then attacked. Perplexity is measured under the model\n"
          "without the watermark (the logprobs of the unmodified distribution).\n\n"
          "Examples:\n"
          "  plumb wm-eval -m model.gguf --prompts prompts.txt -n 200 --deltas 1,2,5,10 --gammas 0.25,0.5\n"
          "  plumb wm-eval -m model.gguf --prompts prompts.txt --wm-scheme lefthash --csv > table.csv\n"
          "  plumb wm-eval -m model.gguf --prompts prompts.txt --substitute 0.1,0.2,0.4 --dilute 0.1 --json\n"
          "  plumb wm-eval -m model.gguf --prompts prompts.txt --deltas 2 --gammas 0.25 --min-entropy 0.5");
      return [a] { return run_eval(*a); };
    }};

}  // namespace
}  // namespace plumb::app
