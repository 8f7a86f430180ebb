// Every ISA level's kernels against the scalar reference, and the scalar matvec against a
// double-precision dot over the dequantized weights.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel_test_util.h"
#include "core/half.h"
#include "gguf/quantize.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

using test::magnitude;
using test::simd_levels;

// Same quantized inputs, different summation order: errors relative to sum |w_i * x_i|.
constexpr double kMaxDotRelError = 2e-5;
// Whole pipeline (SIMD activation quantization may round ties differently): relative to
// sum |w_i * x_i| of the row.
constexpr double kMaxMatRelError = 2e-3;
// Scalar matvec vs exact dot of dequantized weights with unquantized x; the error comes from
// quantizing x to 8 bits (Q8_0 / Q8_K: half a step of amax/127 per element).
constexpr double kMaxQ8ActivationRelError = 1e-2;
constexpr double kMaxFloatRelError = 1e-5;
// Elementwise helpers: relative error per element.
constexpr float kMaxElementwiseRelError = 1e-5f;

// Every SIMD kernel table, including the AVX-512 one without its optional VBMI kernel when the
// CPU has it (so both mxfp4 decode kernels are checked on such machines).
struct NamedTable {
  std::string name;
  KernelTable table;
};
std::vector<NamedTable> simd_tables() {
  std::vector<NamedTable> out;
  for (Isa isa : simd_levels()) out.push_back({std::string(isa_name(isa)), kernel_table(isa)});
  if (isa_supported(Isa::kAvx512) && cpu_features().avx512vbmi) {
    KernelTable t = kernel_table(Isa::kAvx512);
    install_avx512_mxfp4(t, /*use_vbmi=*/false);
    out.push_back({"avx512 without vbmi", t});
  }
  return out;
}

double exact_dot(TensorType type, const uint8_t* w_row, const float* x, int64_t n) {
  std::vector<float> wf(n);
  kernel_table(Isa::kScalar).weights[static_cast<uint32_t>(type)].dequantize(w_row, wf.data(), n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double{wf[i]} * x[i];
  return s;
}

TEST(Dispatch, SelectedIsaIsSupported) {
  EXPECT_TRUE(isa_supported(selected_isa()));
  EXPECT_EQ(std::string(active_isa()), std::string(isa_name(selected_isa())));
  for (TensorType t : test::computable_types()) EXPECT_TRUE(supports(t)) << tensor_type_name(t);
  EXPECT_FALSE(supports(TensorType::kQ2_K));
  EXPECT_FALSE(supports(TensorType::kIQ4_XS));
  std::printf("  cpu: best %s, selected %s\n", std::string(isa_name(best_isa())).c_str(), active_isa());
}

TEST(Dispatch, ParseIsa) {
  EXPECT_EQ(parse_isa("avx2"), Isa::kAvx2);
  EXPECT_EQ(parse_isa("scalar"), Isa::kScalar);
  EXPECT_EQ(parse_isa("avx512"), Isa::kAvx512);
  EXPECT_FALSE(parse_isa("sse9").has_value());
}

TEST(Dot, ScalarMatvecMatchesExactDot) {
  ThreadPool pool(1);
  Scratch scratch;
  constexpr int64_t n_rows = 5, n_cols = 512;
  const std::vector<float> x = test::random_floats(n_cols, 3);
  for (TensorType t : test::computable_types()) {
    const auto w = test::random_weights(t, n_rows, n_cols, 11);
    std::vector<float> y(n_rows);
    matvec_with(kernel_table(Isa::kScalar), t, w.data(), n_rows, n_cols, x.data(), y.data(), pool, scratch);
    const bool q8_act = kernel_table(Isa::kScalar).weights[static_cast<uint32_t>(t)].quantize_x != nullptr;
    const double tol = q8_act ? kMaxQ8ActivationRelError : kMaxFloatRelError;
    for (int64_t r = 0; r < n_rows; ++r) {
      const uint8_t* row = w.data() + r * row_size(t, n_cols);
      const double want = exact_dot(t, row, x.data(), n_cols);
      EXPECT_LE(std::fabs(y[r] - want), tol * magnitude(t, row, x.data(), n_cols))
          << tensor_type_name(t) << " row " << r << " got " << y[r] << " want " << want;
    }
  }
}

TEST(Dot, SimdVecDotMatchesScalar) {
  const KernelTable& ref = kernel_table(Isa::kScalar);
  for (Isa isa : simd_levels()) {
    const KernelTable& simd = kernel_table(isa);
    for (TensorType t : test::computable_types()) {
      const auto id = static_cast<uint32_t>(t);
      // Block counts 1, 3, 7, 11 and 16 exercise every unrolled loop's tail; float rows also
      // get lengths that are not multiples of any vector width.
      const int64_t bs = test::block_size(t);
      std::vector<int64_t> lengths = {bs, 3 * bs, 7 * bs, 11 * bs, 16 * bs, 4096};
      if (bs == 1) lengths.insert(lengths.end(), {33, 1031, 100});
      for (int64_t n : lengths) {
        const auto w = test::random_weights(t, 1, n, static_cast<uint32_t>(n) + id);
        const std::vector<float> x = test::random_floats(n, static_cast<uint32_t>(n) * 3 + 1, -2.0f, 2.0f);
        std::vector<uint8_t> xq(row_size(ref.weights[id].vec_dot_type, n));
        const void* xp = x.data();
        if (ref.weights[id].quantize_x != nullptr) {
          ref.weights[id].quantize_x(x.data(), xq.data(), n);
          xp = xq.data();
        }
        const double want = ref.weights[id].vec_dot(n, w.data(), xp);
        const double got = simd.weights[id].vec_dot(n, w.data(), xp);
        EXPECT_LE(std::fabs(got - want), kMaxDotRelError * magnitude(t, w.data(), x.data(), n))
            << isa_name(isa) << " " << tensor_type_name(t) << " n=" << n << " got " << got << " want " << want;
      }
    }
  }
}

TEST(Dot, SimdActivationQuantizationMatchesScalar) {
  const KernelTable& ref = kernel_table(Isa::kScalar);
  const std::vector<float> x = test::random_floats(1024, 5, -4.0f, 3.0f);
  for (Isa isa : simd_levels()) {
    for (TensorType vdt : {TensorType::kQ8_0, TensorType::kQ8_K}) {
      // Any weight type whose activations are vdt.
      const TensorType wt = vdt == TensorType::kQ8_0 ? TensorType::kQ8_0 : TensorType::kQ4_K;
      const auto id = static_cast<uint32_t>(wt);
      std::vector<uint8_t> a(row_size(vdt, 1024)), b(a.size());
      ref.weights[id].quantize_x(x.data(), a.data(), 1024);
      kernel_table(isa).weights[id].quantize_x(x.data(), b.data(), 1024);
      std::vector<float> fa(1024), fb(1024);
      if (vdt == TensorType::kQ8_0) {
        gguf::dequantize_row_q8_0(a.data(), fa.data(), 1024);
        gguf::dequantize_row_q8_0(b.data(), fb.data(), 1024);
      } else {
        dequantize_row_q8_K(a.data(), fa.data(), 1024);
        dequantize_row_q8_K(b.data(), fb.data(), 1024);
        // bsums must describe the SIMD-quantized values themselves.
        const auto* blocks = reinterpret_cast<const block_q8_K*>(b.data());
        for (int i = 0; i < 4; ++i)
          for (int k = 0; k < 16; ++k) {
            int s = 0;
            for (int l = 0; l < 16; ++l) s += blocks[i].qs[16 * k + l];
            ASSERT_EQ(blocks[i].bsums[k], s) << isa_name(isa);
          }
      }
      // At most one step apart (ties may round differently), one step = amax/127 <= 4/127.
      for (int i = 0; i < 1024; ++i)
        ASSERT_LE(std::fabs(fa[i] - fb[i]), 4.0f / 127.0f * 1.01f) << isa_name(isa) << " " << i;
    }
  }
}

// Odd row counts, token counts that are not multiples of the tiles, 1 and 2 threads.
TEST(Dot, SimdMatvecAndMatmulMatchScalar) {
  const KernelTable& ref = kernel_table(Isa::kScalar);
  for (const NamedTable& simd : simd_tables()) {
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      Scratch scratch;
      for (TensorType t : test::computable_types()) {
        // Block counts with every kind of tail (16, 17 = 2 * 8 + 1, 13 = 8 + 5) and, for float rows, a length that no vector width divides.
        const int64_t bs = test::block_size(t);
        std::vector<int64_t> col_counts = {std::max<int64_t>(512, 2 * bs), 17 * bs, 13 * bs};
        if (bs == 1) col_counts.push_back(1031);
        for (int64_t n_cols : col_counts)
        for (int64_t n_rows : {1, 7, 37}) {
          for (int64_t n_tokens : {1, 3, 21}) {
            const auto w = test::random_weights(t, n_rows, n_cols, static_cast<uint32_t>(n_rows * 100 + n_tokens));
            const std::vector<float> x = test::random_floats(n_cols * n_tokens, static_cast<uint32_t>(n_tokens));
            std::vector<float> want(n_rows * n_tokens), got(n_rows * n_tokens, -1.0f);
            matmul_with(ref, t, w.data(), n_rows, n_cols, x.data(), n_tokens, want.data(), pool, scratch);
            matmul_with(simd.table, t, w.data(), n_rows, n_cols, x.data(), n_tokens, got.data(), pool, scratch);
            for (int64_t tok = 0; tok < n_tokens; ++tok) {
              for (int64_t r = 0; r < n_rows; ++r) {
                const double mag = magnitude(t, w.data() + r * row_size(t, n_cols), x.data() + tok * n_cols, n_cols);
                ASSERT_LE(std::fabs(got[tok * n_rows + r] - want[tok * n_rows + r]), kMaxMatRelError * mag)
                    << simd.name << " " << tensor_type_name(t) << " rows=" << n_rows << " tokens=" << n_tokens
                    << " threads=" << threads << " at token " << tok << " row " << r;
              }
            }
          }
        }
      }
    }
  }
}

TEST(Dot, MatmulEqualsMatvecPerToken) {
  ThreadPool pool(2);
  Scratch scratch;
  constexpr int64_t n_rows = 19, n_cols = 768, n_tokens = 5;
  for (TensorType t : test::computable_types()) {
    const auto w = test::random_weights(t, n_rows, n_cols, 99);
    const std::vector<float> x = test::random_floats(n_cols * n_tokens, 100);
    std::vector<float> y(n_rows * n_tokens), yv(n_rows);
    matmul(t, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
      matvec(t, w.data(), n_rows, n_cols, x.data() + tok * n_cols, yv.data(), pool, scratch);
      for (int64_t r = 0; r < n_rows; ++r) {
        const double mag = magnitude(t, w.data() + r * row_size(t, n_cols), x.data() + tok * n_cols, n_cols);
        ASSERT_LE(std::fabs(y[tok * n_rows + r] - yv[r]), kMaxDotRelError * mag) << tensor_type_name(t);
      }
    }
  }
}

// The engine's greedy output must not depend on the thread count, so neither may any result bit.
TEST(Dot, ResultsAreBitIdenticalAcrossThreadCounts) {
  constexpr int64_t n_rows = 203, n_cols = 1024, n_tokens = 9;
  ThreadPool p1(1), p2(2), p3(3);
  Scratch scratch;
  for (TensorType t : test::computable_types()) {
    const auto w = test::random_weights(t, n_rows, n_cols, 5);
    const std::vector<float> x = test::random_floats(n_cols * n_tokens, 6);
    std::vector<float> a(n_rows * n_tokens), b(a.size()), c(a.size());
    matmul(t, w.data(), n_rows, n_cols, x.data(), n_tokens, a.data(), p1, scratch);
    matmul(t, w.data(), n_rows, n_cols, x.data(), n_tokens, b.data(), p2, scratch);
    matmul(t, w.data(), n_rows, n_cols, x.data(), n_tokens, c.data(), p3, scratch);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << tensor_type_name(t) << " matmul 1 vs 2 threads";
    EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * 4), 0) << tensor_type_name(t) << " matmul 1 vs 3 threads";
    matvec(t, w.data(), n_rows, n_cols, x.data(), a.data(), p1, scratch);
    matvec(t, w.data(), n_rows, n_cols, x.data(), b.data(), p2, scratch);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), n_rows * 4), 0) << tensor_type_name(t) << " matvec 1 vs 2 threads";
  }
}

// Several matrices in one call give, row for row, the bits of one matvec per matrix, at every
// level and thread count, with parts of sizes that make runs of rows straddle them (and an empty
// one); parts 1 and 4 read inputs of their own (as the experts' down projections do), part 3 the
// call's input passed as its own.
TEST(Dot, MatvecManyEqualsOneMatvecPerPart) {
  constexpr int64_t n_cols = 512;
  const int64_t sizes[] = {70, 1, 0, 133, 65};
  ThreadPool p1(1), p3(3);
  Scratch scratch;
  std::vector<NamedTable> tables = simd_tables();
  tables.push_back({"scalar", kernel_table(Isa::kScalar)});
  const std::vector<float> x = test::random_floats(n_cols, 21);
  const std::vector<float> x1 = test::random_floats(n_cols, 22), x4 = test::random_floats(n_cols, 23);
  const float* own[] = {nullptr, x1.data(), nullptr, x.data(), x4.data()};
  for (const NamedTable& nt : tables) {
    for (TensorType t : test::computable_types()) {
      std::vector<std::vector<uint8_t>> ws;
      std::vector<std::vector<float>> want, got;
      std::vector<MatvecPart> parts;
      for (int64_t n : sizes) {
        ws.push_back(test::random_weights(t, std::max<int64_t>(n, 1), n_cols, static_cast<uint32_t>(n) + 7));
        want.emplace_back(n + 1, -1.0f);
        got.emplace_back(n + 1, -1.0f);
      }
      for (size_t i = 0; i < ws.size(); ++i) {
        const float* in = own[i] != nullptr ? own[i] : x.data();
        matvec_with(nt.table, t, ws[i].data(), sizes[i], n_cols, in, want[i].data(), p1, scratch);
        parts.push_back({ws[i].data(), sizes[i], got[i].data(), own[i]});
      }
      for (ThreadPool* pool : {&p1, &p3}) {
        for (auto& g : got) std::fill(g.begin(), g.end(), -1.0f);
        matvec_many_with(nt.table, t, parts, n_cols, x.data(), *pool, scratch);
        for (size_t i = 0; i < ws.size(); ++i)  // the sentinel past each part's rows stays untouched
          EXPECT_EQ(std::memcmp(want[i].data(), got[i].data(), want[i].size() * 4), 0)
              << nt.name << " " << tensor_type_name(t) << " part " << i << ", " << pool->size() << " threads";
      }
    }
  }
}

// Attention over one head's rows (dot_rows_f32, weighted_sum_f32) at every level against the
// double-precision definition: head sizes with and without vector tails, row counts around the
// four-row step, and a stride wider than the head (rows of a longer cache line).
TEST(Attention, RowKernelsMatchDefinitionAtEveryLevel) {
  std::vector<Isa> levels = simd_levels();
  levels.insert(levels.begin(), Isa::kScalar);
  for (const int64_t n : {1, 7, 8, 16, 40, 64, 65, 80, 128, 200}) {
    for (const int64_t rows : {0, 1, 3, 4, 5, 15, 16, 17, 31, 33, 100}) {
      const int64_t stride = n + 3;
      const std::vector<float> q = test::random_floats(n, 10 + n, -2.0f, 2.0f);
      const std::vector<float> kv = test::random_floats(std::max<int64_t>(1, rows * stride), 20 + n, -2.0f, 2.0f);
      const std::vector<float> w = test::random_floats(std::max<int64_t>(1, rows), 30 + n, 0.0f, 1.0f);
      for (Isa isa : levels) {
        const KernelTable& k = kernel_table(isa);
        const std::string name = std::string(isa_name(isa)) + " n=" + std::to_string(n) + " rows=" + std::to_string(rows);
        std::vector<float> scores(static_cast<size_t>(rows) + 1, -7.0f);
        k.dot_rows_f32(q.data(), kv.data(), stride, rows, n, 0.125f, scores.data());
        for (int64_t r = 0; r < rows; ++r) {
          double dot = 0.0, mag = 0.0;
          for (int64_t i = 0; i < n; ++i) {
            dot += double{q[i]} * kv[r * stride + i];
            mag += std::fabs(double{q[i]} * kv[r * stride + i]);
          }
          ASSERT_LE(std::fabs(scores[r] - 0.125 * dot), 1e-6 * mag) << name << " row " << r;
        }
        EXPECT_EQ(scores[rows], -7.0f) << name << ": wrote past the last row";

        std::vector<float> out(static_cast<size_t>(n) + 1, -7.0f);
        k.weighted_sum_f32(w.data(), kv.data(), stride, rows, n, out.data());
        for (int64_t i = 0; i < n; ++i) {
          double want = 0.0, mag = 0.0;
          for (int64_t r = 0; r < rows; ++r) {
            want += double{w[r]} * kv[r * stride + i];
            mag += std::fabs(double{w[r]} * kv[r * stride + i]);
          }
          ASSERT_LE(std::fabs(out[i] - want), 1e-6 * mag + 1e-30) << name << " element " << i;
        }
        EXPECT_EQ(out[n], -7.0f) << name << ": wrote past the head";
      }
    }
  }
}

// The grouped-query forms at every level: nq queries over the same rows (cached as float, f16
// or q8_0 blocks), each with its own scores / weights and output, strided; every query against
// the definition over the cached values (f16 and q8_0 converted exactly to double), and nothing
// written between them.  Row strides leave a gap after each row (3 values, or one q8_0 block).
template <typename T>
void check_grouped_kernels(const std::vector<int64_t>& ns, const std::vector<int64_t>& row_counts,
                           const std::vector<int>& nqs, uint32_t seed) {
  std::vector<Isa> levels = simd_levels();
  levels.insert(levels.begin(), Isa::kScalar);
  constexpr bool kF16 = std::is_same_v<T, uint16_t>, kQ8 = std::is_same_v<T, gguf::block_q8_0>;
  const char* type_name = kQ8 ? " q8_0" : kF16 ? " f16" : "";
  for (const int64_t n : ns) {
    for (const int64_t rows : row_counts) {
      for (const int nq : nqs) {
        const int64_t stride = kQ8 ? n + 32 : n + 3, q_stride = n + 5, out_stride = rows + 2;
        const std::vector<float> q = test::random_floats(nq * q_stride, seed + n, -2.0f, 2.0f);
        const std::vector<float> kf = test::random_floats(std::max<int64_t>(1, rows * stride), seed + 10 + n, -2.0f, 2.0f);
        // The cache, and the value it holds at i (row r's value c is at r * stride + c).
        std::vector<T> kv(kQ8 ? kf.size() / 32 + 1 : kf.size());
        std::vector<double> held(kf.size());
        if constexpr (kQ8) {
          std::vector<float> back(kf.size());
          gguf::quantize_row_q8_0(kf.data(), kv.data(), rows * stride);
          gguf::dequantize_row_q8_0(kv.data(), back.data(), rows * stride);
          for (size_t i = 0; i < kf.size(); ++i) held[i] = back[i];
        } else {
          for (size_t i = 0; i < kf.size(); ++i) {
            kv[i] = kF16 ? T(fp32_to_fp16(kf[i])) : T(kf[i]);
            held[i] = kF16 ? double{fp16_to_fp32(uint16_t(kv[i]))} : double(kv[i]);
          }
        }
        auto at = [&](int64_t i) { return held[static_cast<size_t>(i)]; };
        const std::vector<float> w = test::random_floats(std::max<int64_t>(1, nq * out_stride), seed + 20 + rows, 0.0f, 1.0f);
        for (Isa isa : levels) {
          const KernelTable& k = kernel_table(isa);
          const std::string name = std::string(isa_name(isa)) + type_name + " n=" + std::to_string(n) +
                                   " rows=" + std::to_string(rows) + " nq=" + std::to_string(nq);
          std::vector<float> scores(static_cast<size_t>(nq * out_stride), -7.0f);
          std::vector<float> out(static_cast<size_t>(nq * q_stride), -7.0f);
          if constexpr (kQ8) {
            k.dot_rows_multi_q8_0(q.data(), q_stride, nq, kv.data(), stride, rows, n, 0.125f, scores.data(), out_stride);
            k.weighted_sum_multi_q8_0(w.data(), out_stride, nq, kv.data(), stride, rows, n, out.data(), q_stride);
          } else if constexpr (kF16) {
            k.dot_rows_multi_f16(q.data(), q_stride, nq, kv.data(), stride, rows, n, 0.125f, scores.data(), out_stride);
            k.weighted_sum_multi_f16(w.data(), out_stride, nq, kv.data(), stride, rows, n, out.data(), q_stride);
          } else {
            k.dot_rows_multi_f32(q.data(), q_stride, nq, kv.data(), stride, rows, n, 0.125f, scores.data(), out_stride);
            k.weighted_sum_multi_f32(w.data(), out_stride, nq, kv.data(), stride, rows, n, out.data(), q_stride);
          }
          for (int j = 0; j < nq; ++j) {
            for (int64_t r = 0; r < rows; ++r) {
              double dot = 0.0, mag = 0.0;
              for (int64_t i = 0; i < n; ++i) {
                dot += double{q[j * q_stride + i]} * at(r * stride + i);
                mag += std::fabs(double{q[j * q_stride + i]} * at(r * stride + i));
              }
              ASSERT_LE(std::fabs(scores[j * out_stride + r] - 0.125 * dot), 1e-6 * mag) << name << " query " << j << " row " << r;
            }
            for (int64_t r = rows; r < out_stride; ++r)
              EXPECT_EQ(scores[j * out_stride + r], -7.0f) << name << " query " << j << ": wrote past the last row";
            for (int64_t i = 0; i < n; ++i) {
              double want = 0.0, mag = 0.0;
              for (int64_t r = 0; r < rows; ++r) {
                want += double{w[j * out_stride + r]} * at(r * stride + i);
                mag += std::fabs(double{w[j * out_stride + r]} * at(r * stride + i));
              }
              ASSERT_LE(std::fabs(out[j * q_stride + i] - want), 1e-6 * mag + 1e-30) << name << " query " << j << " element " << i;
            }
            for (int64_t i = n; i < q_stride; ++i)
              EXPECT_EQ(out[j * q_stride + i], -7.0f) << name << " query " << j << ": wrote past the head";
          }
        }
      }
    }
  }
}

TEST(Attention, GroupedKernelsMatchDefinitionAtEveryLevel) {
  check_grouped_kernels<float>({1, 7, 16, 64, 65, 128}, {0, 1, 3, 4, 5, 17, 33}, {1, 2, 3, 4, 5, 8}, 40);
}

TEST(Attention, GroupedF16KernelsMatchDefinitionAtEveryLevel) {
  check_grouped_kernels<uint16_t>({1, 7, 8, 16, 64, 65, 128}, {0, 1, 2, 3, 4, 5, 17, 33}, {1, 3, 4, 5, 8}, 70);
}

TEST(Attention, GroupedQ8_0KernelsMatchDefinitionAtEveryLevel) {
  check_grouped_kernels<gguf::block_q8_0>({32, 64, 96, 128, 256}, {0, 1, 2, 3, 4, 5, 17, 33}, {1, 3, 4, 5, 8}, 90);
}

TEST(Elementwise, AllLevelsMatchDefinitions) {
  constexpr int64_t n = 1031;  // not a multiple of any vector width
  const std::vector<float> a = test::random_floats(n, 1, -3.0f, 3.0f);
  const std::vector<float> b = test::random_floats(n, 2, -3.0f, 3.0f);
  std::vector<Isa> levels = simd_levels();
  levels.insert(levels.begin(), Isa::kScalar);
  for (Isa isa : levels) {
    const KernelTable& k = kernel_table(isa);
    const std::string name(isa_name(isa));

    double ss = 0.0, dot = 0.0, mag = 0.0, sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      ss += double{a[i]} * a[i];
      dot += double{a[i]} * b[i];
      mag += std::fabs(double{a[i]} * b[i]);
      sum += a[i];
    }
    EXPECT_LE(std::fabs(k.dot_f32(a.data(), b.data(), n) - dot), 1e-6 * mag) << name;
    EXPECT_NEAR(k.sum_f32(b.data(), n) + k.sum_f32(a.data(), n) - k.sum_f32(b.data(), n), sum, 1e-3) << name;

    std::vector<float> out(n);
    k.rmsnorm(a.data(), b.data(), out.data(), n, 1e-5f);
    const double scale = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) {
      const double want = a[i] * scale * b[i];
      ASSERT_NEAR(out[i], want, kMaxElementwiseRelError * (std::fabs(want) + 1e-6)) << name << " rmsnorm " << i;
    }

    std::vector<float> sm(a);
    k.softmax_inplace(sm.data(), n);
    double max = a[0], z = 0.0;
    for (float v : a) max = std::max<double>(max, v);
    for (float v : a) z += std::exp(v - max);
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(a[i] - max) / z;
      ASSERT_NEAR(sm[i], want, kMaxElementwiseRelError * want) << name << " softmax " << i;
    }

    std::vector<float> ax(b);
    k.axpy_f32(0.75f, a.data(), ax.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(ax[i], b[i] + 0.75 * a[i], 1e-6 * (1 + std::fabs(ax[i]))) << name;

    std::vector<float> g(a);
    k.swiglu_inplace(g.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = a[i] / (1.0 + std::exp(-double{a[i]})) * b[i];
      ASSERT_NEAR(g[i], want, kMaxElementwiseRelError * (std::fabs(want) + 1e-6)) << name << " swiglu " << i;
    }

    // GELU (tanh form) against its textbook definition; the extremes check no overflow.
    std::vector<float> ge(a), ex = {-1e4f, -30.0f, -5.0f, 0.0f, 5.0f, 30.0f, 1e4f};
    for (size_t j = 0; j < ex.size() && j < ge.size(); ++j) ge[j] = ex[j];
    const std::vector<float> gin(ge);
    k.geglu_inplace(ge.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = gin[i];
      const double want = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))) * b[i];
      ASSERT_TRUE(std::isfinite(ge[i])) << name << " geglu " << i;
      ASSERT_NEAR(ge[i], want, kMaxElementwiseRelError * (std::fabs(want) + 1e-6)) << name << " geglu " << i;
    }
  }
}

TEST(Elementwise, SoftmaxLargeInputsStayFinite) {
  std::vector<float> x = {1000.0f, 999.0f, -1000.0f, 1000.0f};
  softmax_inplace(x.data(), 4);
  double s = 0.0;
  for (float v : x) {
    ASSERT_TRUE(std::isfinite(v));
    s += v;
  }
  EXPECT_NEAR(s, 1.0, 1e-6);
  EXPECT_NEAR(x[0], x[3], 1e-7);
}

}  // namespace
}  // namespace plumb::kernels
