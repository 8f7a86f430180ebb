// kernels/bandwidth.h — a memory read-bandwidth probe, so decode throughput can be read as a
// fraction of what the machine can stream.  Used by kernels_bench and `plumb bench`.
#pragma once

#include <cstddef>

namespace plumb::kernels {

// Reads a `bytes` buffer (default 1 GiB, far beyond any cache) `repeats` times with `threads`
// threads using the active SIMD sum kernel, and returns the best pass in GB/s (1e9 bytes/s).
// Allocates and touches the buffer first (that time is not counted).  Returns 0 when the
// buffer cannot be allocated.
double measure_read_bandwidth_gbs(int threads, size_t bytes = size_t{1} << 30, int repeats = 3);

}  // namespace plumb::kernels
