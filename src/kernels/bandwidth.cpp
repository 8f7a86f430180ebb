#include "kernels/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace plumb::kernels {

double measure_read_bandwidth_gbs(int threads, size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(float);
  if (n == 0 || threads < 1 || repeats < 1) return 0.0;
  constexpr size_t kAlign = 64;
  std::unique_ptr<float, decltype(&std::free)> buf(
      static_cast<float*>(std::aligned_alloc(kAlign, (n * sizeof(float) + kAlign - 1) / kAlign * kAlign)), &std::free);
  if (!buf) return 0.0;
  ThreadPool pool(threads);
  float* data = buf.get();
  // Each thread touches the pages it will later read (first-touch placement).
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) data[i] = static_cast<float>(i & 7);
  });
  const auto sum_f32 = active_kernel_table().sum_f32;
  std::vector<float> partial(static_cast<size_t>(threads));
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end, int t) {
      partial[static_cast<size_t>(t)] = sum_f32(data + begin, end - begin);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Keep the sums observable so the reads cannot be optimised away.
    volatile float sink = 0.0f;
    for (float p : partial) sink = sink + p;
    (void)sink;
    if (s > 0.0) best = std::max(best, static_cast<double>(n * sizeof(float)) / s / 1e9);
  }
  return best;
}

}  // namespace plumb::kernels
