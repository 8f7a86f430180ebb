// kernels/kernels.h — the numeric operations the engine needs, one signature per op.
//
// Each op has a scalar reference (kernels/ref/) and, where it pays, AVX2 and AVX-512
// versions (kernels/x86/) with the same signature; the best available is chosen once at
// start-up from CPU feature detection (cpu_features.h).  Weight matrices are stored as
// GGUF lays them out: n_rows rows of n_cols elements, each row a run of blocks of
// `type` (row r starts at byte r * row_size(type, n_cols)).
//
// Thread safety: functions are reentrant; a ThreadPool runs one parallel_for at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "plumb/tensor_type.h"

namespace plumb::kernels {

// A persistent pool: workers sleep between calls; parallel_for blocks until all work is done.
class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1 (the caller's thread is one of them)
  ~ThreadPool();
  int size() const;
  // Splits [0, n) into contiguous chunks, at most one per thread; fn(begin, end, thread_index).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reusable buffers (quantized activations) so that nothing is allocated in the decode loop.
struct Scratch {
  std::vector<uint8_t> bytes;
  std::vector<const uint8_t*> inputs;  // matvec_many: each part's prepared input
};

// True when matvec/matmul can compute with weights of this type.
bool supports(TensorType type);
// Bytes of one row of n_cols elements.  REQUIRES: n_cols % block_size == 0.
size_t row_size(TensorType type, int64_t n_cols);

// y[r] = dot(W[r, :], x) for r in [0, n_rows).  x has n_cols floats.
// REQUIRES (matvec, matmul): supports(type); n_cols % block_size(type) == 0; w holds n_rows rows.
// Quantized weights meet x quantized to 8 bits (q8_0 blocks for q8_0/q4_0, q8_K for the
// K-quants); results are bit-identical for any pool size.  See docs/kernels.md.
void matvec(TensorType type, const void* w, int64_t n_rows, int64_t n_cols, const float* x, float* y,
            ThreadPool& pool, Scratch& scratch);
// One matrix of several in one call (q, k and v; gate and up; the chosen experts' down
// projections): n_rows rows at w, whose products go to y.  x: this part's own input row, or
// nullptr for the call's.
struct MatvecPart {
  const void* w;
  int64_t n_rows;
  float* y;
  const float* x = nullptr;
};
// matvec for each part, all of `type` and n_cols wide, in one call: each distinct input is
// quantized and prepared once, and the threads take runs of rows across the parts laid end to
// end, so the call has one start and one tail to wait for instead of one per matrix.  Each row's
// result is the one matvec gives.
void matvec_many(TensorType type, std::span<const MatvecPart> parts, int64_t n_cols, const float* x,
                 ThreadPool& pool, Scratch& scratch);
// Y[t, r] = dot(W[r, :], X[t, :]) for t in [0, n_tokens): X is n_tokens x n_cols, Y is n_tokens x n_rows
// (both row-major).  Used for prompt processing; reads each weight row once per batch.
void matmul(TensorType type, const void* w, int64_t n_rows, int64_t n_cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool& pool, Scratch& scratch);
// Converts one row of n elements of `type` to floats (embedding lookup, tests).
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Elementwise / reduction helpers used by the forward pass.
void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps);
// out = (x - mean) / sqrt(variance + eps) * weight: LayerNorm without bias (command-r).  Scalar:
// it runs once per row per layer, never in the matrix loops.
void layernorm(const float* x, const float* weight, float* out, int64_t n, float eps);
void softmax_inplace(float* x, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
// out[i] += a * x[i]
void axpy_f32(float a, const float* x, float* out, int64_t n);
// Attention over one head's cached positions, one call per head rather than one per position
// (a 4096-token context is 4096 calls per head otherwise, each with its own reduction):
//   dot_rows_f32:      out[r] = scale * dot(q, k + r * k_stride, n)          for r < n_rows
//   weighted_sum_f32:  out[i] = sum over r of w[r] * v[r * v_stride + i]   for i < n (out is
//                      overwritten; rows are added in order, as axpy_f32 row by row would)
void dot_rows_f32(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                  float* out);
void weighted_sum_f32(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n, float* out);
// The same for nq query heads that share one KV head's rows (grouped-query attention), so that
// each cached row is read once for all of them rather than once per query head: query j is at
// q + j * q_stride, its scores / weights at out / w + j * (out_stride / w_stride), its output at
// out + j * out_stride.  Each query's result does not depend on nq or on its place among them.
void dot_rows_multi_f32(const float* q, int64_t q_stride, int nq, const float* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride);
void weighted_sum_multi_f32(const float* w, int64_t w_stride, int nq, const float* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride);
// The same over keys and values stored as f16 (a KV cache of half the size); the products and
// sums are in f32.
void dot_rows_multi_f16(const float* q, int64_t q_stride, int nq, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride);
void weighted_sum_multi_f16(const float* w, int64_t w_stride, int nq, const uint16_t* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride);
// The same over keys and values stored as q8_0 (ggml's blocks of 32 int8 values with an f16
// scale, 34 bytes: a quarter of f32's memory, plus 6%).  k and v are rows of blocks; k_stride
// and v_stride count values, as for the others, and like n must be multiples of 32.
void dot_rows_multi_q8_0(const float* q, int64_t q_stride, int nq, const void* k, int64_t k_stride, int64_t n_rows,
                         int64_t n, float scale, float* out, int64_t out_stride);
void weighted_sum_multi_q8_0(const float* w, int64_t w_stride, int nq, const void* v, int64_t v_stride,
                             int64_t n_rows, int64_t n, float* out, int64_t out_stride);
// gate[i] = silu(gate[i]) * up[i]
void swiglu_inplace(float* gate, const float* up, int64_t n);
// gate[i] = gelu(gate[i]) * up[i], GELU in its tanh form (Gemma's gelu_pytorch_tanh, ggml_gelu)
void geglu_inplace(float* gate, const float* up, int64_t n);

// Name of the instruction set in use: "avx512", "avx2" or "scalar".
const char* active_isa();

}  // namespace plumb::kernels
