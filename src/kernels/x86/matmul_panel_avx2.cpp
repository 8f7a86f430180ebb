// AVX2 prompt-processing panels for q4_0 and q8_0 weights.
// (Being written; installs nothing yet.)
#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx2_matmul_panels(KernelTable&) {}

}  // namespace plumb::kernels
