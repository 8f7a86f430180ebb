// Tokenizer throughput, single thread, on English prose: /usr/share/common-licenses/*
// concatenated (about 250 KB) and repeated to 4 MiB.  Vocabularies come from ../shared/vocab
// (skipped when absent).  Reported as bytes_per_second (MB/s of input text).
//
//   build/bench/tokenizer_bench --benchmark_filter=Tokenize
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "plumb/tokenizer.h"

namespace {

namespace fs = std::filesystem;

std::string shared_vocab(const std::string& name) {
  if (const char* env = std::getenv("PLUMB_SHARED_DIR")) return std::string(env) + "/vocab/" + name;
  // The repository's sibling ../shared, as the tests use it.
  return (fs::path(__FILE__).parent_path().parent_path().parent_path() / "shared" / "vocab" / name).string();
}

const std::string& corpus() {
  static const std::string text = [] {
    std::string all;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/share/common-licenses", ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    if (all.empty()) {  // generated prose when the licenses are not installed
      for (int i = 0; i < 20000; ++i) all += "The quick brown fox, number " + std::to_string(i) + ", jumps over the lazy dog.\n";
    }
    std::string big;
    while (big.size() < (4u << 20)) big += all;
    return big;
  }();
  return text;
}

void BM_Tokenize(benchmark::State& state, const std::string& vocab) {
  const std::string path = shared_vocab(vocab);
  if (!fs::exists(path)) {
    state.SkipWithError((path + " is absent").c_str());
    return;
  }
  auto tok = plumb::Tokenizer::from_gguf_path(path);
  if (!tok.ok()) {
    state.SkipWithError(tok.status().to_string().c_str());
    return;
  }
  const std::string& text = corpus();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = (*tok)->tokenize(text, {.add_special = false, .parse_special = false});
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void BM_Detokenize(benchmark::State& state, const std::string& vocab) {
  const std::string path = shared_vocab(vocab);
  if (!fs::exists(path)) {
    state.SkipWithError((path + " is absent").c_str());
    return;
  }
  auto tok = plumb::Tokenizer::from_gguf_path(path);
  if (!tok.ok()) {
    state.SkipWithError(tok.status().to_string().c_str());
    return;
  }
  const auto ids = (*tok)->tokenize(corpus(), {.add_special = false});
  for (auto _ : state) {
    auto text = (*tok)->detokenize(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}

BENCHMARK_CAPTURE(BM_Tokenize, llama_spm, std::string("ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, llama_bpe, std::string("ggml-vocab-llama-bpe.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, gpt_2, std::string("ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, deepseek_coder, std::string("ggml-vocab-deepseek-coder.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, falcon, std::string("ggml-vocab-falcon.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, bert_bge, std::string("ggml-vocab-bert-bge.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detokenize, llama_bpe, std::string("ggml-vocab-llama-bpe.gguf"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
