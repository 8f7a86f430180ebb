// kernels/bandwidth.h — a memory read-bandwidth probe, so decode throughput can be read as a
// fraction of what the machine can stream.  Used by kernels_bench and `plumb bench`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace plumb::kernels {

class ThreadPool;

// A buffer far beyond any cache, allocated and touched once (first-touch placement by the
// reading threads), read on demand: on a shared machine the bandwidth changes from second to
// second, so callers measure it next to (interleaved with) the work they compare it with.
class BandwidthProbe {
 public:
  // bytes: buffer size (default 1 GiB).  ok() is false when it cannot be allocated.
  BandwidthProbe(int threads, size_t bytes = size_t{1} << 30);
  ~BandwidthProbe();
  bool ok() const;
  // Bytes of the buffer in 2 MiB pages (-1: unknown), to print beside the figure.
  int64_t huge_page_bytes() const;
  size_t bytes() const;
  // One full read of the buffer with the active SIMD sum kernel, in GB/s (1e9 bytes/s).
  double measure();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A stretch of decoding between two probe reads: `tokens` tokens in `seconds` (decode time
// only), the probe read just before it and just after it.
struct DecodeWindow {
  double tokens = 0, seconds = 0;
  double probe_before_gbs = 0, probe_after_gbs = 0;
};

// The decode fraction of the probe over n windows: mean and sd weighted by decode time.
struct PairedFraction {
  double mean = 0, sd = 0;
  int n = 0;
};
// Decode bandwidth as a fraction of the probe, window by window: each window's decode GB/s over
// the mean of the two probe reads around it, then the mean of those fractions weighted by decode
// time (and their sd).  On a shared machine the bandwidth moves by half from one second to the
// next; a ratio of whole-run means mixes slow stretches of one with fast stretches of the other.
// Windows without time or without a probe reading are skipped; n == 0 when none is left.
PairedFraction paired_decode_fraction(std::span<const DecodeWindow> windows, double bytes_per_token);

// The best of `repeats` reads of a fresh `bytes` buffer with `threads` threads, in GB/s;
// 0 when the buffer cannot be allocated or an argument is zero.
double measure_read_bandwidth_gbs(int threads, size_t bytes = size_t{1} << 30, int repeats = 3);

}  // namespace plumb::kernels
