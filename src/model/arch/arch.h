// model/arch/arch.h — what differs between architectures.
//
// Adding an architecture (qwen3, gemma, phi3, ...) = one file arch/<name>.cpp defining an
// ArchSpec, plus one line in arch/registry.cpp.  Hyper-parameters common to all are read by
// hparams.cpp; `adjust_hparams` applies the architecture's own defaults and keys, and
// `load_layer` finds its tensors.  Forward-pass features beyond llama (QKV bias, per-head
// q/k norm) are switched on by which tensors a layer has.
#pragma once

#include <string>
#include <string_view>

#include "model/loader.h"
#include "model/weights.h"
#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/status.h"

namespace plumb::model {

struct ArchSpec {
  std::string_view name;   // general.architecture value
  RopeType rope_type;      // llama.cpp's rope type for this architecture
  Status (*adjust_hparams)(const gguf::File& file, ModelHParams& hp);  // may be nullptr
  Status (*load_layer)(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);
};

const ArchSpec& arch_llama();
const ArchSpec& arch_qwen2();
const ArchSpec& arch_qwen3();
const ArchSpec& arch_qwen3moe();
const ArchSpec& arch_qwen2moe();
const ArchSpec& arch_phi3();
const ArchSpec& arch_smollm3();
const ArchSpec& arch_olmo2();
const ArchSpec& arch_granite();
const ArchSpec& arch_granitemoe();
const ArchSpec& arch_command_r();
const ArchSpec& arch_cohere2();
const ArchSpec& arch_ernie4_5();
const ArchSpec& arch_mistral3();
const ArchSpec& arch_gemma();
const ArchSpec& arch_gemma2();
const ArchSpec& arch_gemma3();
const ArchSpec& arch_gpt_oss();

// <key> as a float when present (Corrupt unless finite and > 0), else fallback.
Result<float> optional_positive(const gguf::File& f, const std::string& key, float fallback);
// NotFound unless <arch>.expert_count and <arch>.expert_used_count are > 0 (MoE architectures).
Status require_experts(const gguf::File& f, const ModelHParams& hp);
// <arch>.attention.sliding_window_pattern when present (an integer >= 0), else fallback.
Result<int64_t> swa_period(const gguf::File& f, const std::string& arch, int64_t fallback);

// Granite's scalars (<arch>.logit_scale required; embedding_scale, residual_scale,
// attention.scale, rope.scaling.finetuned), shared by granite and granitemoe.
Status granite_adjust(const gguf::File& f, ModelHParams& hp);
// command-r's LayerNorm eps (required), logit multiplier and parallel blocks, and its layer
// tensors (no ffn_norm; Command R+'s per-head q/k norms at 64 layers or more); shared by
// command-r and cohere2.
Status command_r_adjust(const gguf::File& f, ModelHParams& hp);
Status command_r_load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// nullptr when unknown.
const ArchSpec* find_arch(std::string_view name);
// "llama, qwen2, qwen2moe, qwen3, qwen3moe, phi3, gemma, gemma2, gemma3, smollm3, olmo2, granite,
// granitemoe, command-r, cohere2, ernie4_5, mistral3, gpt-oss"
std::string known_archs();

}  // namespace plumb::model
