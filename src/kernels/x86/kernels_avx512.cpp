// AVX-512 (F, BW, VL, DQ) kernels.
#include <immintrin.h>

#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx512_kernels(KernelTable& t) { (void)t; }

}  // namespace plumb::kernels
