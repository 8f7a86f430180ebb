#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <string>

namespace plumb::kernels {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks (via xgetbv) that the OS saves the wider registers.
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  // Not every compiler's __builtin_cpu_supports knows "f16c" and "avx512vnni" (clang 14 does
  // not): read CPUID directly (leaf 1 ECX bit 29, leaf 7 ECX bits 11 and 1).  OS support for the
  // register state is already implied by avx2 / avx512f above.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) f.f16c = f.avx2 && ((ecx >> 29) & 1) != 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    f.avx512vnni = f.avx512f && ((ecx >> 11) & 1) != 0;
    f.avx512vbmi = f.avx512f && ((ecx >> 1) & 1) != 0;
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
  if (name == "scalar") return Isa::kScalar;
  if (name == "avx2") return Isa::kAvx2;
  if (name == "avx512") return Isa::kAvx512;
  return std::nullopt;
}

Isa selected_isa() {
  static const Isa isa = [] {
    const Isa best = best_isa();
    const char* env = std::getenv("PLUMB_ISA");
    if (env == nullptr || *env == '\0') return best;
    const std::optional<Isa> wanted = parse_isa(env);
    if (!wanted) {
      std::fprintf(stderr, "plumb: PLUMB_ISA='%s' is not one of scalar, avx2, avx512; using %s\n", env,
                   std::string(isa_name(best)).c_str());
      return best;
    }
    return static_cast<int>(*wanted) < static_cast<int>(best) ? *wanted : best;
  }();
  return isa;
}

}  // namespace plumb::kernels
