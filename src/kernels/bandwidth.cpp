#include "kernels/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/huge_pages.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace plumb::kernels {

struct BandwidthProbe::Impl {
  size_t n = 0;
  // 2 MiB pages where the kernel gives them: the weights are read through 2 MiB pages where
  // it can, and the limit they are compared with should be the machine's best (4 KiB pages
  // read 5-15% slower on the development VM).
  HugeBuffer buf;
  float* data() const { return static_cast<float*>(buf.data()); }
  ThreadPool pool;
  std::vector<float> partial;
  explicit Impl(int threads) : pool(threads), partial(static_cast<size_t>(threads)) {}
};

BandwidthProbe::BandwidthProbe(int threads, size_t bytes) {
  if (threads < 1) return;
  impl_ = std::make_unique<Impl>(threads);
  const size_t n = bytes / sizeof(float);
  if (n == 0) return;
  impl_->buf = HugeBuffer(n * sizeof(float));
  if (impl_->buf.data() == nullptr) return;
  impl_->n = n;
  float* data = impl_->data();
  impl_->pool.parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) data[i] = static_cast<float>(i & 7);
  });
}

BandwidthProbe::~BandwidthProbe() = default;

bool BandwidthProbe::ok() const { return impl_ != nullptr && impl_->n > 0; }

size_t BandwidthProbe::bytes() const { return ok() ? impl_->n * sizeof(float) : 0; }

int64_t BandwidthProbe::huge_page_bytes() const {
  return ok() ? huge_mapped_bytes(impl_->buf.data(), bytes()) : -1;
}

double BandwidthProbe::measure() {
  if (!ok()) return 0.0;
  const auto sum_f32 = active_kernel_table().sum_f32;
  const float* data = impl_->data();
  const auto start = std::chrono::steady_clock::now();
  impl_->pool.parallel_for(static_cast<int64_t>(impl_->n), [&](int64_t begin, int64_t end, int t) {
    impl_->partial[static_cast<size_t>(t)] = sum_f32(data + begin, end - begin);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Keep the sums observable so the reads cannot be optimised away.
  volatile float sink = 0.0f;
  for (float p : impl_->partial) sink = sink + p;
  (void)sink;
  return s > 0.0 ? static_cast<double>(impl_->n * sizeof(float)) / s / 1e9 : 0.0;
}

PairedFraction paired_decode_fraction(std::span<const DecodeWindow> windows, double bytes_per_token) {
  double weight = 0, sum = 0, sum_sq = 0;
  int n = 0;
  for (const DecodeWindow& w : windows) {
    if (w.seconds <= 0 || w.tokens <= 0 || w.probe_before_gbs <= 0 || w.probe_after_gbs <= 0) continue;
    const double probe = (w.probe_before_gbs + w.probe_after_gbs) / 2;
    const double f = bytes_per_token * w.tokens / w.seconds / 1e9 / probe;
    weight += w.seconds;
    sum += w.seconds * f;
    sum_sq += w.seconds * f * f;
    ++n;
  }
  PairedFraction r;
  if (n == 0) return r;
  r.n = n;
  r.mean = sum / weight;
  r.sd = n > 1 ? std::sqrt(std::max(0.0, sum_sq / weight - r.mean * r.mean)) : 0.0;
  return r;
}

double measure_read_bandwidth_gbs(int threads, size_t bytes, int repeats) {
  if (threads < 1 || repeats < 1 || bytes < sizeof(float)) return 0.0;
  BandwidthProbe probe(threads, bytes);
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) best = std::max(best, probe.measure());
  return best;
}

}  // namespace plumb::kernels
