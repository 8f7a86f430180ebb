// kernels/bandwidth.h — a memory read-bandwidth probe, so decode throughput can be read as a
// fraction of what the machine can stream.  Used by kernels_bench and `plumb bench`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

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

// The best of `repeats` reads of a fresh `bytes` buffer with `threads` threads, in GB/s;
// 0 when the buffer cannot be allocated or an argument is zero.
double measure_read_bandwidth_gbs(int threads, size_t bytes = size_t{1} << 30, int repeats = 3);

}  // namespace plumb::kernels
