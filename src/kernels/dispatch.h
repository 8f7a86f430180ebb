// kernels/dispatch.h — the table of kernel function pointers, one table per instruction-set
// level.  kernels.cpp picks the table for selected_isa() once; tests ask for each level's
// table and compare it with the scalar one.
//
// The per-ISA files (x86/*avx2*.cpp, x86/*avx512*.cpp) are compiled with -mavx2/-mavx512f
// and include this header: it must stay free of inline functions and templates so that no
// AVX-compiled copy of a shared (COMDAT) function can end up linked into baseline code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/cpu_features.h"
#include "plumb/tensor_type.h"

namespace plumb::kernels {

// Dot product of one weight row (n elements of the weight type) with an activation row already
// converted to the weight's vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* xq);
// A tile: y[c * ldy + r] = dot(row r of w, row c of xq) for r < nr, c < nc; rows of w are
// w_stride bytes apart, rows of xq x_stride bytes apart.
using GemmFn = void (*)(int64_t n, const void* w, size_t w_stride, int nr, const void* xq, size_t x_stride, int nc,
                        float* y, int64_t ldy);
// Converts n floats to a row of another format (activation quantization).
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);
using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);
// Single-token matvec in two steps: the quantized activation row (vec_dot_type) is rearranged
// once per call into matvec_x_bytes(n) bytes (64-byte aligned; the layout belongs to the
// kernel), then matvec_rows computes y[r] = dot(row r of w, x) for nr rows `ws` bytes apart.
using MatvecBytesFn = size_t (*)(int64_t n);
using MatvecPrepareFn = void (*)(int64_t n, const void* xq, void* xp);
using MatvecRowsFn = void (*)(int64_t n, const void* w, size_t ws, int nr, const void* xp, float* y);
// Prompt processing in panels: matmul_prepare derives per-(token, block) terms from the quantized
// activation rows (matmul_x_bytes(n, n_tokens) bytes, 64-byte aligned), then matmul_panel
// computes up to kPanelRows weight rows for all n_tokens tokens, repacking the rows once into
// `tmp` (matmul_panel_bytes(n) bytes, 64-byte aligned, one per thread) and streaming every
// token past them.  y[t * ldy + r] as for GemmFn.
inline constexpr int kPanelRows = 16;
using MatmulBytesFn = size_t (*)(int64_t n, int64_t n_tokens);
using MatmulPrepareFn = void (*)(int64_t n, int64_t n_tokens, const void* xq, size_t x_stride, void* xp);
using MatmulPanelBytesFn = size_t (*)(int64_t n);
using MatmulPanelFn = void (*)(int64_t n, const void* w, size_t ws, int nr, const void* xq, size_t x_stride,
                               const void* xp, int64_t n_tokens, float* y, int64_t ldy, void* tmp);

struct WeightKernels {
  TensorType vec_dot_type = TensorType::kF32;  // what activations are converted to
  QuantizeRowFn quantize_x = nullptr;          // nullptr iff vec_dot_type is F32
  VecDotFn vec_dot = nullptr;                  // nullptr: type not computable
  GemmFn gemm = nullptr;                       // optional; matmul falls back to vec_dot
  DequantizeRowFn dequantize = nullptr;
  // Optional decode path (all three or none); matvec falls back to gemm, then vec_dot.
  MatvecBytesFn matvec_x_bytes = nullptr;
  MatvecPrepareFn matvec_prepare = nullptr;
  MatvecRowsFn matvec_rows = nullptr;
  // Optional prompt-processing path (all four or none); matmul falls back to gemm tiles.
  MatmulBytesFn matmul_x_bytes = nullptr;
  MatmulPrepareFn matmul_prepare = nullptr;
  MatmulPanelBytesFn matmul_panel_bytes = nullptr;
  MatmulPanelFn matmul_panel = nullptr;
};

inline constexpr int kMaxTypeId = 40;

struct KernelTable {
  Isa isa = Isa::kScalar;
  WeightKernels weights[kMaxTypeId];  // indexed by the GGUF type id
  void (*rmsnorm)(const float* x, const float* weight, float* out, int64_t n, float eps) = nullptr;
  void (*softmax_inplace)(float* x, int64_t n) = nullptr;
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  void (*axpy_f32)(float a, const float* x, float* out, int64_t n) = nullptr;
  // Attention over one head's cached positions (see kernels.h).
  void (*dot_rows_f32)(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                       float* out) = nullptr;
  void (*weighted_sum_f32)(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n,
                           float* out) = nullptr;
  // The same for nq query heads that share the rows (grouped-query attention).
  void (*dot_rows_multi_f32)(const float* q, int64_t q_stride, int nq, const float* k, int64_t k_stride,
                             int64_t n_rows, int64_t n, float scale, float* out, int64_t out_stride) = nullptr;
  void (*weighted_sum_multi_f32)(const float* w, int64_t w_stride, int nq, const float* v, int64_t v_stride,
                                 int64_t n_rows, int64_t n, float* out, int64_t out_stride) = nullptr;
  // The same over a cache of f16 keys and values (every level has them).
  void (*dot_rows_multi_f16)(const float* q, int64_t q_stride, int nq, const uint16_t* k, int64_t k_stride,
                             int64_t n_rows, int64_t n, float scale, float* out, int64_t out_stride) = nullptr;
  void (*weighted_sum_multi_f16)(const float* w, int64_t w_stride, int nq, const uint16_t* v, int64_t v_stride,
                                 int64_t n_rows, int64_t n, float* out, int64_t out_stride) = nullptr;
  // And over a cache of q8_0 blocks (strides and n in values, multiples of 32).
  void (*dot_rows_multi_q8_0)(const float* q, int64_t q_stride, int nq, const void* k, int64_t k_stride,
                              int64_t n_rows, int64_t n, float scale, float* out, int64_t out_stride) = nullptr;
  void (*weighted_sum_multi_q8_0)(const float* w, int64_t w_stride, int nq, const void* v, int64_t v_stride,
                                  int64_t n_rows, int64_t n, float* out, int64_t out_stride) = nullptr;
  void (*swiglu_inplace)(float* gate, const float* up, int64_t n) = nullptr;
  void (*geglu_inplace)(float* gate, const float* up, int64_t n) = nullptr;
  // Sum of n floats, for the bandwidth probe (must read every byte).
  float (*sum_f32)(const float* x, int64_t n) = nullptr;
};

// The table for `isa`, built on first use.  REQUIRES: isa_supported(isa).
const KernelTable& kernel_table(Isa isa);
// The table in use: kernel_table(selected_isa()).
const KernelTable& active_kernel_table();

// matvec/matmul (kernels.h) with an explicit table, so tests can run every level in one process.
class ThreadPool;
struct Scratch;
struct MatvecPart;
void matvec_with(const KernelTable& table, TensorType type, const void* w, int64_t n_rows, int64_t n_cols,
                 const float* x, float* y, ThreadPool& pool, Scratch& scratch);
void matvec_many_with(const KernelTable& table, TensorType type, std::span<const MatvecPart> parts, int64_t n_cols,
                      const float* x, ThreadPool& pool, Scratch& scratch);
void matmul_with(const KernelTable& table, TensorType type, const void* w, int64_t n_rows, int64_t n_cols,
                 const float* x, int64_t n_tokens, float* y, ThreadPool& pool, Scratch& scratch);

// Each level fills in what it implements over the level below it.
void install_scalar_kernels(KernelTable& table);
void install_avx2_kernels(KernelTable& table);
void install_avx2_gemm(KernelTable& table);
void install_avx2_kquant_gemm(KernelTable& table);
void install_avx2_matvec(KernelTable& table);
void install_avx2_kquant_matvec(KernelTable& table);
void install_avx2_matmul_panels(KernelTable& table);
void install_avx512_kernels(KernelTable& table);
void install_avx512_gemm(KernelTable& table);
void install_avx512_kquant_gemm(KernelTable& table);
void install_avx512_matvec(KernelTable& table);
void install_avx512_kquant_matvec(KernelTable& table);
void install_avx512_matmul_panels(KernelTable& table);
void install_avx512_kquant_panels(KernelTable& table);
// Q4_1, Q5_0 and Q5_1 (ggml's older 32-element formats, still used by llama.cpp's K-quant mixes
// for tensors whose rows are not a multiple of 256).
void install_avx2_legacy_quants(KernelTable& table);
void install_avx512_legacy_quants(KernelTable& table);
// MXFP4 (gpt-oss's experts): vec_dot, decode path and prompt panels.  They take the Q8_0
// activation quantizer the level installed for q8_0 weights, so they go after install_*_kernels.
// use_vbmi: the decode kernel that gathers packed bytes with byte permutes (AVX512_VBMI), of
// matvec_mxfp4_avx512vbmi.cpp (compiled with -mavx512vbmi); tests install both variants.
void install_avx2_mxfp4(KernelTable& table);
void install_avx512_mxfp4(KernelTable& table, bool use_vbmi);
void install_avx512vbmi_mxfp4_matvec(KernelTable& table);
// AVX2 prompt-processing panels for Q4_K, Q5_K and Q6_K.
void install_avx2_kquant_panels(KernelTable& table);
// dot_rows_f32 and weighted_sum_f32 (attention).
void install_avx2_attention(KernelTable& table);
void install_avx512_attention(KernelTable& table);

}  // namespace plumb::kernels
