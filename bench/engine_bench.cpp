// Engine throughput on synthetic models (written once to the temp directory): prompt
// processing (batched) and single-token decoding, per weight type.  `plumb bench` is the
// user-facing tool; this keeps a Google Benchmark record for regressions.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>

#include "gguf/synth.h"
#include "plumb/model.h"

namespace {

const plumb::Model& model_for(plumb::TensorType type) {
  static std::map<plumb::TensorType, std::unique_ptr<plumb::Model>> cache;
  auto& m = cache[type];
  if (!m) {
    auto spec = plumb::gguf::synth_preset("small").value();
    spec.type = type;
    const auto path = (std::filesystem::temp_directory_path() /
                       ("plumb-engine-bench-small-" + std::string(plumb::tensor_type_name(type)) + ".gguf"))
                          .string();
    if (!std::filesystem::exists(path) && !plumb::gguf::synth_write(spec, path).ok()) std::abort();
    m = std::move(plumb::Model::load(path).value());
  }
  return *m;
}

void BM_Decode(benchmark::State& state) {
  const auto type = static_cast<plumb::TensorType>(state.range(0));
  const auto& model = model_for(type);
  auto ctx = plumb::Context::create(model, {.n_ctx = 256, .n_batch = 64, .n_threads = static_cast<int32_t>(state.range(1))})
                 .value();
  int32_t tok = 1;
  for (auto _ : state) {
    if (ctx->n_past() >= ctx->n_ctx()) ctx->truncate(0);
    if (!ctx->eval(std::span<const int32_t>(&tok, 1)).ok()) state.SkipWithError("eval failed");
    tok = (tok * 31 + 7) % 1000;
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations() * model.bytes_per_token()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void BM_Prompt(benchmark::State& state) {
  const auto type = static_cast<plumb::TensorType>(state.range(0));
  const auto& model = model_for(type);
  auto ctx = plumb::Context::create(model, {.n_ctx = 256, .n_batch = 128, .n_threads = static_cast<int32_t>(state.range(1))})
                 .value();
  std::vector<int32_t> prompt(128);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 37 + 11) % 2000);
  for (auto _ : state) {
    ctx->truncate(0);
    if (!ctx->eval(prompt).ok()) state.SkipWithError("eval failed");
  }
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * prompt.size()), benchmark::Counter::kIsRate);
}

void types(benchmark::internal::Benchmark* b) {
  for (auto t : {plumb::TensorType::kF16, plumb::TensorType::kQ8_0, plumb::TensorType::kQ4_0})
    for (int threads : {1, 2}) b->Args({static_cast<int64_t>(t), threads});
}

BENCHMARK(BM_Decode)->Apply(types)->UseRealTime();
BENCHMARK(BM_Prompt)->Apply(types)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
