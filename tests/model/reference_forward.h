// A deliberately plain reference forward pass for llama/qwen2/qwen3/phi3/gemma* GGUF files: double precision,
// naive loops, no KV cache (recomputes from scratch), weights dequantized to double.  Written
// independently of src/model to check the engine.
#pragma once

#include <string>
#include <vector>

#include "plumb/gguf.h"

namespace plumb::test {

// logits[t][v] for every position t of `tokens`.  Aborts the test (gtest ASSERT) on an
// unexpected file; only for the fixtures the tests write.
// n_ctx: the context size the engine runs with, which picks LongRoPE's long or short factors.
// kv_type: round every key (after RoPE) and value as a KV cache of that type stores them: kF32
// (no rounding: the engine's f32 cache holds its floats), kF16 (to the nearest f16) or kQ8_0
// (each head's values in blocks of 32 with ggml's q8_0 arithmetic, written out here).
std::vector<std::vector<double>> reference_logits(const gguf::File& f, const std::vector<int>& tokens,
                                                  int64_t n_ctx = 0, TensorType kv_type = TensorType::kF32);

}  // namespace plumb::test
