// kernels/cpu_features.h — which x86 instruction sets this CPU (and OS) supports, and which
// kernel level to use.  PLUMB_ISA=scalar|avx2|avx512 caps the level (for tests and
// comparisons); asking for more than the CPU has falls back to the best available.
#pragma once

#include <optional>
#include <string_view>

namespace plumb::kernels {

// kAvx2: AVX2 + FMA + F16C.  kAvx512: additionally AVX-512 F/BW/VL/DQ and VNNI (Ice Lake,
// Zen 4 and later); AVX-512 CPUs without VNNI (Skylake-X) use the AVX2 level.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512vbmi = false;  // byte permutes; an optional extra within the avx512 level
};

// Detected once (cpuid/xgetbv through __builtin_cpu_supports).
const CpuFeatures& cpu_features();
// True when kernels of `isa` can run here.
bool isa_supported(Isa isa);
// Highest supported level.
Isa best_isa();
// "scalar", "avx2", "avx512".
std::string_view isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);
// The level the process uses: best_isa(), capped by PLUMB_ISA when set.  An unknown
// PLUMB_ISA value is reported on stderr once and ignored.
Isa selected_isa();

}  // namespace plumb::kernels
