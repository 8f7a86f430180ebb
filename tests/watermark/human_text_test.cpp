// The detector on human text: over >= 2,000 windows of 200 tokens of real prose installed on
// this machine (licences, package READMEs and notes), z > 4 must be as rare as the normal
// tail says (<= 0.1% of windows), and z must look standard normal (mean within +-0.1,
// standard deviation within 0.9-1.1).  The corpus is read in a fixed order, windows are
// deduplicated, and the key is fixed, so a machine gives the same answer every run.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/tokenizer.h"
#include "plumb/watermark.h"
#include "support/test_support.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

constexpr size_t kWindow = 200;
constexpr size_t kWindows = 2100;
constexpr int64_t kKey = 20231105;  // the first of the keys; the others step by 7919

// Text files (not compressed, not binary, mostly letters) in a fixed order, each once.
std::vector<std::string> collect_corpus(size_t max_bytes) {
  std::vector<std::string> paths;
  auto add_dir = [&](const fs::path& dir, bool recursive) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec)) paths.push_back(it->path().string());
    } else {
      for (auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file(ec)) paths.push_back(e.path().string());
    }
  };
  add_dir("/usr/share/common-licenses", false);
  add_dir("/usr/share/doc", true);
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> texts;
  std::set<uint64_t> seen;
  size_t total = 0;
  for (const auto& p : paths) {
    const std::string name = fs::path(p).filename().string();
    if (name.ends_with(".gz") || name.ends_with(".html") || name.ends_with(".js") || name == "copyright") continue;
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec || size < 2000 || size > (4u << 20)) continue;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    size_t letters = 0;
    bool binary = false;
    for (unsigned char c : t) {
      if (c == 0) binary = true;
      letters += std::isalpha(c) || c == ' ' || c == '\n' || c == ',' || c == '.';
    }
    if (binary || letters < t.size() * 85 / 100) continue;  // prose, not tables or code
    if (!seen.insert(XXH3_64bits(t.data(), t.size())).second) continue;
    total += t.size();
    texts.push_back(std::move(t));
    if (total >= max_bytes) break;
  }
  return texts;
}

// Fallback when no real vocabulary is at hand: words and punctuation marks, each hashed to
// one of 32,000 ids.  Human text tokenized this way is as "unwatermarked" as any.
std::vector<int32_t> word_hash_tokens(const std::string& text) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (std::isalnum(c))
      while (j < text.size() && std::isalnum(static_cast<unsigned char>(text[j]))) ++j;
    out.push_back(static_cast<int32_t>(XXH3_64bits(text.data() + i, j - i) % 32000));
    i = j;
  }
  return out;
}

struct Stats {
  size_t n = 0, over4 = 0;
  double sum = 0, sum2 = 0, max = -1e9;
  void add(double z) {
    ++n;
    over4 += z > 4.0;
    sum += z;
    sum2 += z * z;
    max = std::max(max, z);
  }
  double mean() const { return sum / static_cast<double>(n); }
  double sd() const { return std::sqrt(sum2 / static_cast<double>(n) - mean() * mean()); }
  void print(const std::string& what) const {
    std::printf("%s: %zu windows of %zu tokens: z > 4 in %zu (%.3f%%), mean z %.3f, sd %.3f, max %.2f\n",
                what.c_str(), n, kWindow, over4, 100.0 * static_cast<double>(over4) / static_cast<double>(n), mean(),
                sd(), max);
  }
  void expect_calibrated() const {
    EXPECT_LE(static_cast<double>(over4), 0.001 * static_cast<double>(n));
    EXPECT_NEAR(mean(), 0.0, 0.1);
    EXPECT_GE(sd(), 0.9);
    EXPECT_LE(sd(), 1.1);
  }
};

// Scores every window with default options (one of `keys` keys each) and checks the z of the
// default rule; the reference's n-gram figures (DetectResult::reference) are checked too when
// `reference_calibrated`, else only printed.
void check_human_windows(const std::vector<std::vector<int32_t>>& windows, WatermarkScheme scheme, int32_t vocab,
                         const std::string& label, int keys, bool reference_calibrated) {
  std::vector<Detector> dets;
  for (int k = 0; k < keys; ++k) {
    WatermarkConfig cfg;
    cfg.scheme = scheme;
    cfg.key = kKey + 7919 * k;
    auto det = Detector::create(cfg, vocab);  // default DetectOptions
    ASSERT_TRUE(det.ok());
    dets.push_back(std::move(*det));
  }
  Stats plumb_rule, ngram_rule;
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const auto r = dets[wi % dets.size()].detect(windows[wi]);
    ASSERT_TRUE(r.scored);
    plumb_rule.add(r.z);
    ngram_rule.add(r.reference.z);
  }
  const std::string name = label + ", " + std::string(watermark_scheme_name(scheme));
  plumb_rule.print(name + ", default (seed) rule");
  ngram_rule.print(name + ", reference (ngram) rule");
  {
    SCOPED_TRACE(name + ", default rule");
    plumb_rule.expect_calibrated();
  }
  if (reference_calibrated) {
    SCOPED_TRACE(name + ", reference rule");
    ngram_rule.expect_calibrated();
  }
}

TEST(HumanText, FalsePositiveRateAndNullDistribution) {
  const auto texts = collect_corpus(size_t{6} << 20);
  std::unique_ptr<Tokenizer> tok;
  const std::string vocab_path = test::shared_path("vocab/ggml-vocab-llama-spm.gguf");
  if (!vocab_path.empty()) {
    auto t = Tokenizer::from_path(vocab_path);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    tok = std::move(*t);
  }
  std::vector<std::vector<int32_t>> windows;
  std::set<uint64_t> seen;
  for (const auto& text : texts) {
    TokenizeOptions opts;
    opts.add_special = false;
    const auto ids = tok ? tok->tokenize(text, opts) : word_hash_tokens(text);
    for (size_t i = 0; i + kWindow <= ids.size() && windows.size() < kWindows; i += kWindow) {
      std::vector<int32_t> w(ids.begin() + static_cast<std::ptrdiff_t>(i),
                             ids.begin() + static_cast<std::ptrdiff_t>(i + kWindow));
      if (seen.insert(XXH3_64bits(w.data(), w.size() * sizeof(int32_t))).second) windows.push_back(std::move(w));
    }
    if (windows.size() >= kWindows) break;
  }
  if (windows.size() < 2000)
    GTEST_SKIP() << "only " << windows.size() << " distinct windows of prose under /usr/share/doc and "
                 << "/usr/share/common-licenses on this machine; the test needs 2,000";
  const std::string label = tok ? "llama-spm tokens" : "word-hash tokens";
  const int32_t vocab = tok ? tok->n_vocab() : 32000;
  // One of 50 fixed keys per window: the guarantee is over a secret, random key.  With one
  // key for the whole corpus, windows share their frequent n-grams' fixed colours and the
  // mean z drifts by about +-0.2 depending on the key.
  const int keys = 50;
  // Default options (each distinct (seed, token) pair counted once) for every scheme; for
  // lefthash and the hash schemes the reference's n-gram rule counts the same.
  check_human_windows(windows, WatermarkScheme::kLeftHash, vocab, label, keys, true);
  check_human_windows(windows, WatermarkScheme::kHash, vocab, label, keys, true);
  check_human_windows(windows, WatermarkScheme::kHash4, vocab, label, keys, true);
#if defined(__SANITIZE_ADDRESS__)
  // Under sanitizers the cache-less reference schemes take minutes here; their code paths are
  // covered by the other tests, and their statistics by the optimised build.
  GTEST_SKIP() << "selfhash/minhash statistics skipped under AddressSanitizer";
#endif
  // The reference's n-gram rule is over-dispersed for these (selfhash: sd ~1.5, z > 4 in ~0.75%
  // of windows), which is why it is not the default; its figures are printed, not checked.
  check_human_windows(windows, WatermarkScheme::kSelfHash, vocab, label, keys, false);
  check_human_windows(windows, WatermarkScheme::kMinHash, vocab, label, keys, false);
}

// Selective detection (plumb detect --min-entropy 0.5) on the same kind of prose, tokenized and
// scored by stories260K (the model the option needs): leaving out the tokens the model
// predicted with low entropy must keep z calibrated, since the choice depends on the text and
// the model, never on the key.  selfhash, one of 50 keys per window, 600 windows of 200 tokens
// (the model pass is the cost: 2,000 windows, measured once, gave z > 4 in none, mean -0.017,
// sd 0.993; 600 keep the suite quick, with bounds widened by the smaller sample's error).
constexpr size_t kSelectiveWindows = 600;

TEST(HumanText, SelectiveDetectionStaysCalibrated) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "120,000 tokens through the model take minutes under AddressSanitizer; the optimised build runs it";
#endif
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto tok = Tokenizer::from_gguf((*model)->file());
  ASSERT_TRUE(tok.ok());
  auto ctx = Context::create(**model, {.n_ctx = 256, .n_batch = 256, .n_threads = 2});
  ASSERT_TRUE(ctx.ok());
  const auto texts = collect_corpus(size_t{3} << 20);
  std::vector<std::vector<int32_t>> windows;
  std::set<uint64_t> seen;
  for (const auto& text : texts) {
    TokenizeOptions opts;
    opts.add_special = false;
    const auto ids = (*tok)->tokenize(text, opts);
    for (size_t i = 0; i + kWindow <= ids.size() && windows.size() < kSelectiveWindows; i += kWindow) {
      std::vector<int32_t> w(ids.begin() + static_cast<std::ptrdiff_t>(i),
                             ids.begin() + static_cast<std::ptrdiff_t>(i + kWindow));
      if (seen.insert(XXH3_64bits(w.data(), w.size() * sizeof(int32_t))).second) windows.push_back(std::move(w));
    }
    if (windows.size() >= kSelectiveWindows) break;
  }
  if (windows.size() < kSelectiveWindows)
    GTEST_SKIP() << "only " << windows.size() << " distinct windows of prose on this machine";
  std::vector<Detector> dets;
  for (int k = 0; k < 50; ++k) {
    WatermarkConfig cfg;
    cfg.key = kKey + 7919 * k;
    auto det = Detector::create(cfg, (*tok)->n_vocab());
    ASSERT_TRUE(det.ok());
    dets.push_back(std::move(*det));
  }
  Stats selective;
  int64_t excluded = 0;
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    auto h = next_token_entropies(**ctx, windows[wi], (*tok)->bos());
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    std::vector<uint8_t> exclude(windows[wi].size());
    for (size_t i = 0; i < exclude.size(); ++i) exclude[i] = (*h)[i] < 0.5f;
    const auto r = dets[wi % dets.size()].detect(windows[wi], exclude);
    ASSERT_TRUE(r.scored) << r.message;
    selective.add(r.z);
    excluded += r.num_excluded;
  }
  selective.print("stories260K tokens, selfhash, --min-entropy 0.5 (" +
                  std::to_string(excluded / static_cast<int64_t>(windows.size())) + " tokens per window left out)");
  EXPECT_GT(excluded, 0);
  // z > 4 has probability 3e-5 per window; over 600 windows the mean and sd carry sampling
  // errors of ~0.04 and ~0.03, and the corpus differs between machines: the bounds allow ~4-5 of
  // those (this machine: mean -0.060, sd 0.929 here; -0.017 and 0.993 over 2,000 windows).
  EXPECT_LE(selective.over4, 1u);
  EXPECT_NEAR(selective.mean(), 0.0, 0.2);
  EXPECT_GE(selective.sd(), 0.85);
  EXPECT_LE(selective.sd(), 1.15);
}

}  // namespace
}  // namespace plumb
