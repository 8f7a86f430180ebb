// The public kernels API: picks the kernel table once and drives matvec/matmul over the
// thread pool.
#include "kernels/kernels.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <cmath>
#include <cstring>

#include "kernels/dispatch.h"

namespace plumb::kernels {

namespace {

KernelTable build_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  install_scalar_kernels(t);
  if (isa == Isa::kAvx2 || isa == Isa::kAvx512) {
    install_avx2_kernels(t);
    install_avx2_gemm(t);
    install_avx2_kquant_gemm(t);
    install_avx2_matvec(t);
    install_avx2_kquant_matvec(t);
    install_avx2_matmul_panels(t);
    install_avx2_kquant_panels(t);
    install_avx2_legacy_quants(t);
    install_avx2_mxfp4(t);
    install_avx2_attention(t);
  }
  if (isa == Isa::kAvx512) {
    install_avx512_kernels(t);
    install_avx512_gemm(t);
    install_avx512_kquant_gemm(t);
    install_avx512_matvec(t);
    install_avx512_kquant_matvec(t);
    install_avx512_matmul_panels(t);
    install_avx512_kquant_panels(t);
    install_avx512_legacy_quants(t);
    install_avx512_mxfp4(t, cpu_features().avx512vbmi);
    install_avx512_attention(t);
  }
  return t;
}

const WeightKernels& weight_kernels(const KernelTable& t, TensorType type) {
  const auto id = static_cast<uint32_t>(type);
  assert(id < static_cast<uint32_t>(kMaxTypeId) && t.weights[id].vec_dot != nullptr);
  return t.weights[id];
}

uint8_t* scratch_bytes(Scratch& scratch, size_t n) {
  // Grows only, so steady-state decoding never allocates.
  if (scratch.bytes.size() < n) scratch.bytes.resize(n);
  return scratch.bytes.data();
}

// Rows per tile in matmul: a tile's weights (e.g. 16 rows of 4096 q4_0 = 36 KiB) stay in
// L1/L2 while every token's activations stream past them, so weights are read once per batch.
constexpr int64_t kRowTile = 16;
constexpr int64_t kTokenTile = 16;
// The smallest run of rows a matvec thread takes at once (see parallel_guided).
constexpr int64_t kMatvecChunk = 64;

// Runs fn(i) for i in [0, n_items) on every pool thread, each taking the next item from a shared
// counter.  Which thread computes an item never changes its result.
template <typename Fn>
void parallel_dynamic(ThreadPool& pool, int64_t n_items, const Fn& fn) {
  if (n_items <= 0) return;
  if (pool.size() == 1 || n_items == 1) {
    for (int64_t i = 0; i < n_items; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.parallel_for(std::min<int64_t>(pool.size(), n_items), [&](int64_t, int64_t, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
         i = next.fetch_add(1, std::memory_order_relaxed))
      fn(i);
  });
}

// Runs fn(begin, end) over runs of rows that cover [0, n_rows), on every pool thread.  Each
// thread takes the next run from a shared counter, sized as a fraction of the rows left
// (guided self-scheduling): the first runs are long, so each thread reads one long linear
// stream that its prefetches and the hardware prefetcher can follow, and the last runs are
// short (min_rows), so a thread that loses its core to another process does not hold up the
// call.  Which thread computes a row never changes its result.
template <typename Fn>
void parallel_guided(ThreadPool& pool, int64_t n_rows, int64_t min_rows, const Fn& fn) {
  if (n_rows <= 0) return;
  const int64_t threads = std::min<int64_t>(pool.size(), (n_rows + min_rows - 1) / min_rows);
  if (threads <= 1) {
    fn(int64_t{0}, n_rows);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.parallel_for(threads, [&](int64_t, int64_t, int) {
    int64_t begin = next.load(std::memory_order_relaxed);
    while (begin < n_rows) {
      const int64_t want = std::max(min_rows, (n_rows - begin) / (2 * threads));
      const int64_t end = std::min(n_rows, begin + (want + 3) / 4 * 4);
      if (next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) {
        fn(begin, end);
        begin = next.load(std::memory_order_relaxed);
      }
    }
  });
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  assert(isa_supported(isa));
  switch (isa) {
    case Isa::kAvx512: {
      static const KernelTable t = build_table(Isa::kAvx512);
      return t;
    }
    case Isa::kAvx2: {
      static const KernelTable t = build_table(Isa::kAvx2);
      return t;
    }
    case Isa::kScalar:
      break;
  }
  static const KernelTable t = build_table(Isa::kScalar);
  return t;
}

const KernelTable& active_kernel_table() {
  static const KernelTable& t = kernel_table(selected_isa());
  return t;
}

bool supports(TensorType type) {
  const auto id = static_cast<uint32_t>(type);
  return id < static_cast<uint32_t>(kMaxTypeId) && active_kernel_table().weights[id].vec_dot != nullptr;
}

size_t row_size(TensorType type, int64_t n_cols) {
  const auto traits = tensor_type_traits(type);
  assert(traits && n_cols % traits->block_size == 0);
  return static_cast<size_t>(n_cols / traits->block_size) * traits->type_size;
}

// Calls fn(i, lo, hi) for each part i's rows [lo, hi) that fall in the rows [begin, end) of the
// parts laid end to end.
template <typename Fn>
void for_part_rows(std::span<const MatvecPart> parts, int64_t begin, int64_t end, const Fn& fn) {
  int64_t first = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const MatvecPart& p = parts[i];
    const int64_t lo = std::max(begin, first), hi = std::min(end, first + p.n_rows);
    if (lo < hi) fn(i, lo - first, hi - first);
    first += p.n_rows;
    if (first >= end) break;
  }
}

// Quantizes (and, with `prepare`, lays out for matvec_rows) each distinct input of the parts once,
// into the scratch: scratch.inputs[i] is part i's.
void prepare_inputs(const WeightKernels& k, std::span<const MatvecPart> parts, int64_t n_cols, const float* x,
                    bool prepare, Scratch& scratch) {
  const size_t xq_bytes = k.quantize_x != nullptr ? row_size(k.vec_dot_type, n_cols) : 0;
  const size_t xq_span = (xq_bytes + 63) / 64 * 64;
  const size_t xp_span = prepare ? (k.matvec_x_bytes(n_cols) + 63) / 64 * 64 : 0;
  const size_t slot = xq_span + xp_span;
  uint8_t* buf = scratch_bytes(scratch, 64 + slot * parts.size());
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf) + 63) & ~uintptr_t{63});
  if (scratch.inputs.size() < parts.size()) scratch.inputs.resize(parts.size());
  size_t used = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const float* in = parts[i].x != nullptr ? parts[i].x : x;
    size_t same = i;
    for (size_t j = 0; j < i && same == i; ++j)
      if ((parts[j].x != nullptr ? parts[j].x : x) == in) same = j;
    if (same != i) {
      scratch.inputs[i] = scratch.inputs[same];
      continue;
    }
    uint8_t* xq_buf = base + used * slot;
    const void* xq = in;
    if (k.quantize_x != nullptr) {
      k.quantize_x(in, xq_buf, n_cols);
      xq = xq_buf;
    }
    if (prepare) {
      k.matvec_prepare(n_cols, xq, xq_buf + xq_span);
      scratch.inputs[i] = xq_buf + xq_span;
    } else {
      scratch.inputs[i] = static_cast<const uint8_t*>(xq);
    }
    ++used;
  }
}

void matvec_many_with(const KernelTable& table, TensorType type, std::span<const MatvecPart> parts, int64_t n_cols,
                      const float* x, ThreadPool& pool, Scratch& scratch) {
  const WeightKernels& k = weight_kernels(table, type);
  const size_t w_rs = row_size(type, n_cols);
  int64_t n_rows = 0;
  for (const MatvecPart& p : parts) n_rows += p.n_rows;
  auto row = [&](const MatvecPart& p, int64_t r) {
    return static_cast<const uint8_t*>(p.w) + static_cast<size_t>(r) * w_rs;
  };
  // Decode path: each activation row is rearranged once, then every thread streams its rows.
  const bool rows_kernel = k.matvec_rows != nullptr;
  prepare_inputs(k, parts, n_cols, x, rows_kernel, scratch);
  const uint8_t* const* inputs = scratch.inputs.data();
  if (rows_kernel) {
    parallel_guided(pool, n_rows, kMatvecChunk, [&](int64_t begin, int64_t end) {
      for_part_rows(parts, begin, end, [&](size_t i, int64_t lo, int64_t hi) {
        const MatvecPart& p = parts[i];
        k.matvec_rows(n_cols, row(p, lo), w_rs, static_cast<int>(hi - lo), inputs[i], p.y + lo);
      });
    });
    return;
  }
  parallel_guided(pool, n_rows, kMatvecChunk, [&](int64_t begin, int64_t end) {
    for_part_rows(parts, begin, end, [&](size_t i, int64_t lo, int64_t hi) {
      const MatvecPart& p = parts[i];
      const void* xq = inputs[i];
      if (k.gemm != nullptr) {
        // A one-token GEMM shares each activation load across a micro-tile of rows.  Each row's
        // arithmetic is independent of the tiling, so results do not depend on the thread count.
        k.gemm(n_cols, row(p, lo), w_rs, static_cast<int>(hi - lo), xq, 0, 1, p.y + lo, 0);
        return;
      }
      for (int64_t r = lo; r < hi; ++r) p.y[r] = k.vec_dot(n_cols, row(p, r), xq);
    });
  });
}

void matvec_with(const KernelTable& table, TensorType type, const void* w, int64_t n_rows, int64_t n_cols,
                 const float* x, float* y, ThreadPool& pool, Scratch& scratch) {
  const MatvecPart part{w, n_rows, y};
  matvec_many_with(table, type, {&part, 1}, n_cols, x, pool, scratch);
}

void matmul_with(const KernelTable& table, TensorType type, const void* w, int64_t n_rows, int64_t n_cols,
                 const float* x, int64_t n_tokens, float* y, ThreadPool& pool, Scratch& scratch) {
  if (n_tokens <= 0) return;
  if (n_tokens == 1) {
    matvec_with(table, type, w, n_rows, n_cols, x, y, pool, scratch);
    return;
  }
  const WeightKernels& k = weight_kernels(table, type);
  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  size_t x_rs = static_cast<size_t>(n_cols) * sizeof(float);
  if (k.quantize_x != nullptr) {
    x_rs = row_size(k.vec_dot_type, n_cols);
    uint8_t* buf = scratch_bytes(scratch, x_rs * static_cast<size_t>(n_tokens));
    pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) k.quantize_x(x + t * n_cols, buf + static_cast<size_t>(t) * x_rs, n_cols);
    });
    xq = buf;
  }
  if (k.matmul_panel != nullptr) {
    // Panels: each thread repacks kPanelRows weight rows once into its own buffer and streams
    // every token past them.
    const size_t w_rs = row_size(type, n_cols);
    const auto* wb = static_cast<const uint8_t*>(w);
    // Quantized activation rows (if any) are at the start of the scratch; the rest goes after them.
    const bool quantized = k.quantize_x != nullptr;
    const size_t xq_span = quantized ? (x_rs * static_cast<size_t>(n_tokens) + 63) / 64 * 64 : 0;
    const size_t xp_span = (k.matmul_x_bytes(n_cols, n_tokens) + 63) / 64 * 64;
    const size_t tmp_span = (k.matmul_panel_bytes(n_cols) + 63) / 64 * 64;
    uint8_t* buf = scratch_bytes(scratch, xq_span + 64 + xp_span + tmp_span * static_cast<size_t>(pool.size()));
    if (quantized) xq = buf;
    auto* xp = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf + xq_span) + 63) & ~uintptr_t{63});
    uint8_t* tmp = xp + xp_span;
    k.matmul_prepare(n_cols, n_tokens, xq, x_rs, xp);
    const int64_t n_panels = (n_rows + kPanelRows - 1) / kPanelRows;
    std::atomic<int64_t> next{0};
    pool.parallel_for(std::min<int64_t>(pool.size(), n_panels), [&](int64_t, int64_t, int thread) {
      uint8_t* mine = tmp + tmp_span * static_cast<size_t>(thread);
      for (int64_t p = next.fetch_add(1, std::memory_order_relaxed); p < n_panels;
           p = next.fetch_add(1, std::memory_order_relaxed)) {
        const int64_t r0 = p * kPanelRows;
        const int nr = static_cast<int>(std::min<int64_t>(kPanelRows, n_rows - r0));
        k.matmul_panel(n_cols, wb + static_cast<size_t>(r0) * w_rs, w_rs, nr, xq, x_rs, xp, n_tokens, y + r0, n_rows,
                       mine);
      }
    });
    return;
  }
  const size_t w_rs = row_size(type, n_cols);
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t n_row_tiles = (n_rows + kRowTile - 1) / kRowTile;
  parallel_dynamic(pool, n_row_tiles, [&](int64_t rt) {
    const int64_t r0 = rt * kRowTile;
    const int nr = static_cast<int>(std::min(kRowTile, n_rows - r0));
    const uint8_t* wt = wb + static_cast<size_t>(r0) * w_rs;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
      const int nc = static_cast<int>(std::min(kTokenTile, n_tokens - t0));
      const uint8_t* xt = xq + static_cast<size_t>(t0) * x_rs;
      float* yt = y + t0 * n_rows + r0;
      if (k.gemm != nullptr) {
        k.gemm(n_cols, wt, w_rs, nr, xt, x_rs, nc, yt, n_rows);
        continue;
      }
      for (int c = 0; c < nc; ++c)
        for (int r = 0; r < nr; ++r)
          yt[c * n_rows + r] = k.vec_dot(n_cols, wt + static_cast<size_t>(r) * w_rs, xt + static_cast<size_t>(c) * x_rs);
    }
  });
}

void matvec(TensorType type, const void* w, int64_t n_rows, int64_t n_cols, const float* x, float* y,
            ThreadPool& pool, Scratch& scratch) {
  matvec_with(active_kernel_table(), type, w, n_rows, n_cols, x, y, pool, scratch);
}

void matvec_many(TensorType type, std::span<const MatvecPart> parts, int64_t n_cols, const float* x,
                 ThreadPool& pool, Scratch& scratch) {
  matvec_many_with(active_kernel_table(), type, parts, n_cols, x, pool, scratch);
}

void matmul(TensorType type, const void* w, int64_t n_rows, int64_t n_cols, const float* x, int64_t n_tokens,
            float* y, ThreadPool& pool, Scratch& scratch) {
  matmul_with(active_kernel_table(), type, w, n_rows, n_cols, x, n_tokens, y, pool, scratch);
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  weight_kernels(active_kernel_table(), type).dequantize(src, dst, n);
}

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  active_kernel_table().rmsnorm(x, weight, out, n, eps);
}
void layernorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((x[i] - mean) * inv) * weight[i];
}
void softmax_inplace(float* x, int64_t n) { active_kernel_table().softmax_inplace(x, n); }
float dot_f32(const float* a, const float* b, int64_t n) { return active_kernel_table().dot_f32(a, b, n); }
void axpy_f32(float a, const float* x, float* out, int64_t n) { active_kernel_table().axpy_f32(a, x, out, n); }
void dot_rows_f32(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                  float* out) {
  active_kernel_table().dot_rows_f32(q, k, k_stride, n_rows, n, scale, out);
}
void weighted_sum_f32(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n, float* out) {
  active_kernel_table().weighted_sum_f32(w, v, v_stride, n_rows, n, out);
}
void dot_rows_multi_f32(const float* q, int64_t q_stride, int nq, const float* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  active_kernel_table().dot_rows_multi_f32(q, q_stride, nq, k, k_stride, n_rows, n, scale, out, out_stride);
}
void weighted_sum_multi_f32(const float* w, int64_t w_stride, int nq, const float* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  active_kernel_table().weighted_sum_multi_f32(w, w_stride, nq, v, v_stride, n_rows, n, out, out_stride);
}
void dot_rows_multi_f16(const float* q, int64_t q_stride, int nq, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  active_kernel_table().dot_rows_multi_f16(q, q_stride, nq, k, k_stride, n_rows, n, scale, out, out_stride);
}
void weighted_sum_multi_f16(const float* w, int64_t w_stride, int nq, const uint16_t* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  active_kernel_table().weighted_sum_multi_f16(w, w_stride, nq, v, v_stride, n_rows, n, out, out_stride);
}
void dot_rows_multi_q8_0(const float* q, int64_t q_stride, int nq, const void* k, int64_t k_stride, int64_t n_rows,
                         int64_t n, float scale, float* out, int64_t out_stride) {
  assert(k_stride % 32 == 0 && n % 32 == 0);
  active_kernel_table().dot_rows_multi_q8_0(q, q_stride, nq, k, k_stride, n_rows, n, scale, out, out_stride);
}
void weighted_sum_multi_q8_0(const float* w, int64_t w_stride, int nq, const void* v, int64_t v_stride,
                             int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  assert(v_stride % 32 == 0 && n % 32 == 0);
  active_kernel_table().weighted_sum_multi_q8_0(w, w_stride, nq, v, v_stride, n_rows, n, out, out_stride);
}
void swiglu_inplace(float* gate, const float* up, int64_t n) { active_kernel_table().swiglu_inplace(gate, up, n); }
void geglu_inplace(float* gate, const float* up, int64_t n) { active_kernel_table().geglu_inplace(gate, up, n); }

const char* active_isa() { return isa_name(active_kernel_table().isa).data(); }

}  // namespace plumb::kernels
