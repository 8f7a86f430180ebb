// AVX2 kernels — placeholder, filled in by the change that adds them.
#include "kernels/dispatch.h"

namespace plumb::kernels {

void install_avx2_kquant_panels(KernelTable&) {}

}  // namespace plumb::kernels
