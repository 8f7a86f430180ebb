// AVX2 + FMA + F16C kernels.
#include <immintrin.h>

#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx2_kernels(KernelTable& t) { (void)t; }

}  // namespace plumb::kernels
