// The list of architectures.  Explicit rather than self-registering: static initialisers in
// a static library are dropped by the linker when nothing references their object file.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {
const ArchSpec* const* all_archs(size_t* n) {
  static const ArchSpec* const kArchs[] = {
      &arch_llama(), &arch_qwen2(),   &arch_qwen2moe(), &arch_qwen3(),   &arch_qwen3moe(), &arch_phi3(),
      &arch_gemma(), &arch_gemma2(),  &arch_gemma3(),   &arch_smollm3(), &arch_olmo2(),    &arch_granite(),
      &arch_granitemoe(), &arch_command_r(), &arch_cohere2(), &arch_ernie4_5(),
      &arch_mistral3(), &arch_gpt_oss()};
  *n = sizeof(kArchs) / sizeof(kArchs[0]);
  return kArchs;
}
}  // namespace

const ArchSpec* find_arch(std::string_view name) {
  size_t n;
  const ArchSpec* const* a = all_archs(&n);
  for (size_t i = 0; i < n; ++i)
    if (a[i]->name == name) return a[i];
  return nullptr;
}

std::string known_archs() {
  size_t n;
  const ArchSpec* const* a = all_archs(&n);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += a[i]->name;
  }
  return out;
}

}  // namespace plumb::model
