// Kernel throughput: matvec GB/s per weight type (as a fraction of the probed memory read
// bandwidth), matmul (prompt processing) GFLOP/s, and the bandwidth probe itself.
//
//   build-kern/bench/kernels_bench                                  # everything
//   build-kern/bench/kernels_bench --benchmark_filter='Matvec/q4_0'  # one type
//   PLUMB_ISA=avx2 build-kern/bench/kernels_bench                   # force a lower level
#include <benchmark/benchmark.h>

#include <algorithm>
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/huge_pages.h"
#include "gguf/quantize.h"
#include "kernels/bandwidth.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/kquants.h"

namespace plumb::kernels {
namespace {

const TensorType kTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0,
                             TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
                             TensorType::kMXFP4, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K};

void quantize(TensorType type, const float* x, void* y, int64_t n) {
  switch (type) {
    case TensorType::kQ4_K:
      return quantize_row_q4_K_ref(x, y, n);
    case TensorType::kQ5_K:
      return quantize_row_q5_K_ref(x, y, n);
    case TensorType::kQ6_K:
      return quantize_row_q6_K_ref(x, y, n);
    default:
      (void)gguf::quantize_row(type, x, y, n);
  }
}

// n_rows x n_cols weights: 64 distinct random rows repeated, in enough copies (cycled through)
// that the working set is >= 256 MiB, far beyond the last-level cache: the figures are DRAM
// streaming rates, comparable with the bandwidth probe.
// Buffers are in 2 MiB pages, as the engine maps its weights (core/huge_pages.h); with
// PLUMB_BENCH_SMALL_PAGES=1 they are kept in 4 KiB pages, to see what TLB misses cost.
using Buffer = HugeBuffer;

Buffer make_buffer(const std::vector<uint8_t>& content) {
  Buffer b(content.size());
  const char* env = std::getenv("PLUMB_BENCH_SMALL_PAGES");
  if (env != nullptr && std::string(env) == "1") madvise(b.data(), b.size(), MADV_NOHUGEPAGE);
  std::memcpy(b.data(), content.data(), content.size());
  return b;
}

struct Weights {
  size_t matrix_bytes = 0;
  std::vector<Buffer> copies;
};

Weights make_weights(TensorType type, int64_t n_rows, int64_t n_cols) {
  const size_t rs = row_size(type, n_cols);
  Weights out;
  out.matrix_bytes = rs * static_cast<size_t>(n_rows);
  std::vector<uint8_t> w(out.matrix_bytes);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(n_cols));
  for (int64_t r = 0; r < n_rows; ++r) {
    if (r < 64) {
      for (auto& v : row) v = dist(rng);
      quantize(type, row.data(), w.data() + r * rs, n_cols);
    } else {
      std::copy_n(w.data() + (r % 64) * rs, rs, w.data() + r * rs);
    }
  }
  const size_t n_copies = std::max<size_t>(1, (size_t{256} << 20) / out.matrix_bytes + 1);
  for (size_t i = 0; i < n_copies; ++i) out.copies.push_back(make_buffer(w));
  return out;
}

double probed_bandwidth(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, measure_read_bandwidth_gbs(threads)).first;
  return it->second;
}

void BM_Matvec(benchmark::State& state, TensorType type) {
  const int64_t n_rows = state.range(0), n_cols = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const Weights w = make_weights(type, n_rows, n_cols);
  std::vector<float> x(static_cast<size_t>(n_cols), 0.5f), y(static_cast<size_t>(n_rows));
  ThreadPool pool(threads);
  Scratch scratch;
  size_t next = 0;
  for (auto _ : state) {
    matvec(type, w.copies[next].data(), n_rows, n_cols, x.data(), y.data(), pool, scratch);
    next = next + 1 == w.copies.size() ? 0 : next + 1;
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(w.matrix_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  const double bw = probed_bandwidth(threads);
  state.counters["bw_GB/s"] = bw;
  // Fraction of the probed bandwidth (a rate: GB / bw per second of wall time).
  state.counters["of_bw"] =
      benchmark::Counter(bw > 0 ? bytes * 1e-9 * state.iterations() / bw : 0.0, benchmark::Counter::kIsRate);
  state.SetLabel(active_isa());
}

// Cache-resident weights (512 x 2048, <= 4 MiB): the kernels' compute rate without DRAM.
void BM_MatvecHot(benchmark::State& state, TensorType type) {
  const int64_t n_rows = 512, n_cols = 2048;
  const Weights w = make_weights(type, n_rows, n_cols);
  std::vector<float> x(static_cast<size_t>(n_cols), 0.5f), y(static_cast<size_t>(n_rows));
  ThreadPool pool(1);
  Scratch scratch;
  for (auto _ : state) {
    matvec(type, w.copies[0].data(), n_rows, n_cols, x.data(), y.data(), pool, scratch);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.matrix_bytes) * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(active_isa());
}

// The same rows through the row-at-a-time vec_dot kernel (no GEMM tile), for comparison.
void BM_VecDotHot(benchmark::State& state, TensorType type) {
  const int64_t n_rows = 512, n_cols = 2048;
  const Weights w = make_weights(type, n_rows, n_cols);
  const WeightKernels& k = active_kernel_table().weights[static_cast<uint32_t>(type)];
  std::vector<float> x(static_cast<size_t>(n_cols), 0.5f), y(static_cast<size_t>(n_rows));
  std::vector<uint8_t> xq(row_size(k.vec_dot_type, n_cols));
  const void* xp = x.data();
  if (k.quantize_x != nullptr) {
    k.quantize_x(x.data(), xq.data(), n_cols);
    xp = xq.data();
  }
  const size_t rs = row_size(type, n_cols);
  for (auto _ : state) {
    for (int64_t r = 0; r < n_rows; ++r) y[r] = k.vec_dot(n_cols, static_cast<const uint8_t*>(w.copies[0].data()) + r * rs, xp);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.matrix_bytes) * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(active_isa());
}

void BM_Matmul(benchmark::State& state, TensorType type) {
  const int64_t n_rows = state.range(0), n_cols = state.range(1), n_tokens = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const Weights w = make_weights(type, n_rows, n_cols);
  std::vector<float> x(static_cast<size_t>(n_cols * n_tokens), 0.25f), y(static_cast<size_t>(n_rows * n_tokens));
  ThreadPool pool(threads);
  Scratch scratch;
  for (auto _ : state) {
    matmul(type, w.copies[0].data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * static_cast<double>(n_rows * n_cols * n_tokens);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(n_tokens) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(active_isa());
}

void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  double gbs = 0.0;
  for (auto _ : state) gbs = measure_read_bandwidth_gbs(threads, size_t{1} << 30, 3);
  state.counters["GB/s"] = gbs;
  state.SetLabel(active_isa());
}

void register_all() {
  for (TensorType t : kTypes) {
    const std::string name(tensor_type_name(t));
    auto* mv = benchmark::RegisterBenchmark(("Matvec/" + name).c_str(), BM_Matvec, t);
    mv->ArgNames({"rows", "cols", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
    for (int threads : {1, 2}) {
      mv->Args({2048, 8192, threads});
      mv->Args({8192, 2048, threads});
    }
    benchmark::RegisterBenchmark(("MatvecHot/" + name).c_str(), BM_MatvecHot, t)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("VecDotHot/" + name).c_str(), BM_VecDotHot, t)->Unit(benchmark::kMicrosecond);
    auto* mm = benchmark::RegisterBenchmark(("Matmul/" + name).c_str(), BM_Matmul, t);
    mm->ArgNames({"rows", "cols", "tokens", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
    for (int threads : {1, 2}) mm->Args({2048, 2048, 128, threads});
  }
  benchmark::RegisterBenchmark("ReadBandwidth", BM_ReadBandwidth)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace
}  // namespace plumb::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  plumb::kernels::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
