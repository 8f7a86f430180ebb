// Watermark detection throughput.
//   cmake -S . -B build-wm -G Ninja -DPLUMB_BENCH=ON && cmake --build build-wm --target watermark_bench
//   build-wm/bench/watermark_bench --benchmark_filter=Detect
// items_per_second = scored tokens per second on one core, tokenization excluded (except
// BM_EndToEndText, whose bytes_per_second includes tokenization).
//
// Token streams: English prose from /usr/share/common-licenses tokenized with the shared
// llama-spm (V = 32,000) and llama-bpe (V = 128,256) vocabularies when ../shared is present;
// otherwise Zipf-distributed ids, which have text's repetition structure.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "plumb/tokenizer.h"
#include "plumb/watermark.h"

namespace {

using namespace plumb;

std::string shared_dir() {
  for (const char* p : {"../shared", "../../shared", "/work/shared"})
    if (std::filesystem::is_directory(std::string(p) + "/vocab")) return p;
  return "";
}

// Licences first, then package documentation (README, NEWS, *.txt, *.md), in a fixed order,
// each file once: about `max_bytes` of mostly English prose.
std::string prose_text(size_t max_bytes) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/usr/share/common-licenses", ec)) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> docs;
  for (auto it = fs::recursive_directory_iterator("/usr/share/doc", fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && !name.ends_with(".gz") && name != "copyright" &&
        (name.starts_with("README") || name.starts_with("NEWS") || name.ends_with(".txt") || name.ends_with(".md")))
      docs.push_back(it->path().string());
  }
  std::sort(docs.begin(), docs.end());
  paths.insert(paths.end(), docs.begin(), docs.end());
  std::string all;
  for (const auto& f : paths) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
    if (all.size() >= max_bytes) break;
  }
  return all;
}

std::string license_text() { return prose_text(size_t{3} << 20); }

const Tokenizer* tokenizer_for(int32_t vocab) {
  static std::unique_ptr<Tokenizer> spm, bpe;
  static bool loaded = false;
  if (!loaded) {
    loaded = true;
    const std::string dir = shared_dir();
    if (!dir.empty()) {
      if (auto t = Tokenizer::from_path(dir + "/vocab/ggml-vocab-llama-spm.gguf"); t.ok()) spm = std::move(*t);
      if (auto t = Tokenizer::from_path(dir + "/vocab/ggml-vocab-llama-bpe.gguf"); t.ok()) bpe = std::move(*t);
    }
  }
  if (spm && spm->n_vocab() == vocab) return spm.get();
  if (bpe && bpe->n_vocab() >= vocab - 300 && vocab > 100000) return bpe.get();
  return nullptr;
}

// About n ids: real tokens of prose when a vocabulary is at hand, else Zipf(1.1) ids.
std::vector<int32_t> token_stream(int32_t vocab, size_t n) {
  std::vector<int32_t> out;
  if (const Tokenizer* tok = tokenizer_for(vocab)) {
    TokenizeOptions o;
    o.add_special = false;
    const auto ids = tok->tokenize(license_text(), o);
    while (out.size() < n) out.insert(out.end(), ids.begin(), ids.end());
  } else {
    std::mt19937 rng(5);
    std::vector<double> w(static_cast<size_t>(vocab));
    for (size_t i = 0; i < w.size(); ++i) w[i] = 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
    std::discrete_distribution<int32_t> d(w.begin(), w.end());
    for (size_t i = 0; i < n; ++i) out.push_back(d(rng));
  }
  out.resize(n);
  return out;
}

WatermarkScheme scheme_arg(int64_t s) { return static_cast<WatermarkScheme>(s); }

// One Detector scanning 200-token texts of a corpus, as a JSONL scan does: its caches fill
// as it goes.  Each pass over the stream starts with a fresh Detector (untimed), so the
// figure is for text it has not seen, not for re-reading the same stream from cache.
// Optional third argument: the green-list cache in MiB (DetectOptions::cache_bytes; 0 or
// absent: the default).
void BM_DetectCorpus(benchmark::State& state) {
  const auto scheme = scheme_arg(state.range(0));
  const auto vocab = static_cast<int32_t>(state.range(1));
  const auto stream = token_stream(vocab, 600'000);
  WatermarkConfig cfg;
  cfg.scheme = scheme;
  DetectOptions opts;
  if (state.range(2) > 0) opts.cache_bytes = static_cast<size_t>(state.range(2)) << 20;
  const int32_t v = tokenizer_for(vocab) ? tokenizer_for(vocab)->n_vocab() : vocab;
  auto det = Detector::create(cfg, v, opts);
  size_t pos = 0;
  int64_t tokens = 0;
  for (auto _ : state) {
    if (pos + 200 > stream.size()) {
      state.PauseTiming();
      det = Detector::create(cfg, v, opts);
      pos = 0;
      state.ResumeTiming();
    }
    const auto r = det->detect(std::span<const int32_t>(stream).subspan(pos, 200));
    benchmark::DoNotOptimize(r.z);
    tokens += 200;
    pos += 200;
  }
  state.SetItemsProcessed(tokens);
  state.SetLabel(std::string(watermark_scheme_name(scheme)) + (tokenizer_for(vocab) ? " prose" : " zipf"));
}

// A fresh Detector per text: no reuse across texts (one document checked on its own).
void BM_DetectSingleText(benchmark::State& state) {
  const auto scheme = scheme_arg(state.range(0));
  const auto vocab = static_cast<int32_t>(state.range(1));
  const auto stream = token_stream(vocab, 100'000);
  WatermarkConfig cfg;
  cfg.scheme = scheme;
  const int32_t v = tokenizer_for(vocab) ? tokenizer_for(vocab)->n_vocab() : vocab;
  size_t pos = 0;
  int64_t tokens = 0;
  for (auto _ : state) {
    auto det = Detector::create(cfg, v);
    if (pos + 500 > stream.size()) pos = 0;
    const auto r = det->detect(std::span<const int32_t>(stream).subspan(pos, 500));
    benchmark::DoNotOptimize(r.z);
    tokens += 500;
    pos += 500;
  }
  state.SetItemsProcessed(tokens);
  state.SetLabel(std::string(watermark_scheme_name(scheme)));
}

// The bare green test for one (context, token), no caches: the cost of a cache miss.
void BM_GreenTest(benchmark::State& state) {
  const auto scheme = scheme_arg(state.range(0));
  const auto vocab = static_cast<int32_t>(state.range(1));
  WatermarkConfig cfg;
  cfg.scheme = scheme;
  auto wm = Watermark::create(cfg, vocab);
  std::mt19937 rng(3);
  std::vector<int32_t> gram(static_cast<size_t>(wm->ngram_size()));
  int64_t n = 0, green = 0;
  for (auto _ : state) {
    for (auto& x : gram) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
    green += wm->is_green(gram);
    ++n;
  }
  state.SetItemsProcessed(n);
  state.counters["green_fraction"] = static_cast<double>(green) / static_cast<double>(std::max<int64_t>(n, 1));
}

// Building one whole green list (what the detector caches per previous token for lefthash).
void BM_GreenList(benchmark::State& state) {
  const auto vocab = static_cast<int32_t>(state.range(0));
  WatermarkConfig cfg;
  cfg.scheme = WatermarkScheme::kLeftHash;
  auto wm = Watermark::create(cfg, vocab);
  std::vector<int32_t> list;
  uint32_t seed = 1;
  int64_t n = 0;
  for (auto _ : state) {
    wm->green_list_seeded(seed++ * 2654435761u, list);
    benchmark::DoNotOptimize(list.data());
    ++n;
  }
  state.SetItemsProcessed(n);
}

// Text to verdict, tokenization included (llama-spm), one text of the licences at a time.
void BM_EndToEndText(benchmark::State& state) {
  const Tokenizer* tok = tokenizer_for(32000);
  if (tok == nullptr) {
    state.SkipWithError("needs ../shared/vocab/ggml-vocab-llama-spm.gguf");
    return;
  }
  const std::string text = prose_text(size_t{1} << 20).substr(0, 1 << 20);
  WatermarkConfig cfg;
  cfg.scheme = scheme_arg(state.range(0));
  auto det = Detector::create(cfg, tok->n_vocab());
  TokenizeOptions o;
  o.add_special = false;
  size_t pos = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    if (pos + 2000 > text.size()) pos = 0;
    const auto ids = tok->tokenize(std::string_view(text).substr(pos, 2000), o);
    const auto r = det->detect(ids);
    benchmark::DoNotOptimize(r.z);
    bytes += 2000;
    pos += 2000;
  }
  state.SetBytesProcessed(bytes);
}

constexpr int64_t kLeft = static_cast<int64_t>(WatermarkScheme::kLeftHash);
constexpr int64_t kSelf = static_cast<int64_t>(WatermarkScheme::kSelfHash);
constexpr int64_t kHash = static_cast<int64_t>(WatermarkScheme::kHash);
constexpr int64_t kHash4 = static_cast<int64_t>(WatermarkScheme::kHash4);

BENCHMARK(BM_DetectCorpus)
    ->Args({kLeft, 32000, 0})->Args({kLeft, 128256, 0})->Args({kLeft, 128256, 64})
    ->Args({kSelf, 32000, 0})->Args({kSelf, 128256, 0})
    ->Args({kHash, 32000, 0})->Args({kHash4, 128256, 0});
BENCHMARK(BM_DetectSingleText)->Args({kLeft, 32000})->Args({kSelf, 32000})->Args({kSelf, 128256})->Args({kHash, 32000});
BENCHMARK(BM_GreenTest)->Args({kLeft, 32000})->Args({kLeft, 128256})->Args({kSelf, 32000})->Args({kSelf, 128256})->Args({kHash, 32000})->Args({kHash4, 32000});
BENCHMARK(BM_GreenList)->Arg(32000)->Arg(128256);
BENCHMARK(BM_EndToEndText)->Arg(kLeft)->Arg(kSelf)->Arg(kHash);

}  // namespace

BENCHMARK_MAIN();
