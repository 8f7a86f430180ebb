// AVX-512 single-token matvec (decode path) for q4_K, q5_K and q6_K weights.
// (Being written; installs nothing yet.)
#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx512_kquant_matvec(KernelTable&) {}

}  // namespace plumb::kernels
