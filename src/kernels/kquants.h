// kernels/kquants.h — the K-quant formats, which live with the other block formats in
// gguf/kquants.h, under the names the kernels have always used.
#pragma once

#include "gguf/kquants.h"

namespace plumb::kernels {

using gguf::block_q4_K;
using gguf::block_q5_K;
using gguf::block_q6_K;
using gguf::block_q8_K;
using gguf::dequantize_row_q4_K;
using gguf::dequantize_row_q5_K;
using gguf::dequantize_row_q6_K;
using gguf::dequantize_row_q8_K;
using gguf::get_scale_min_k4;
using gguf::kKScaleSize;
using gguf::kQK_K;
using gguf::pack_scale_min_k4;
using gguf::quantize_row_q4_K_ref;
using gguf::quantize_row_q5_K_ref;
using gguf::quantize_row_q6_K_ref;
using gguf::quantize_row_q8_K_ref;

}  // namespace plumb::kernels
