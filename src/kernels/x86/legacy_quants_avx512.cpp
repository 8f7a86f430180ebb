// AVX-512 kernels — placeholder, filled in by the change that adds them.
#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx512_legacy_quants(KernelTable&) {}

}  // namespace plumb::kernels
