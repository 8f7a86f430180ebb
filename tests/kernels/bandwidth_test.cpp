#include "kernels/bandwidth.h"

#include "kernel_test_util.h"

namespace plumb::kernels {
namespace {

TEST(Bandwidth, ProbeReturnsAPlausibleRate) {
  // 16 MiB keeps the test fast; the real probe uses 1 GiB.  Any machine streams a buffer at more
  // than 0.1 GB/s and less than 10 TB/s.
  for (int threads : {1, 2}) {
    const double gbs = measure_read_bandwidth_gbs(threads, size_t{16} << 20, 2);
    EXPECT_GT(gbs, 0.1) << threads << " threads";
    EXPECT_LT(gbs, 10000.0) << threads << " threads";
  }
  EXPECT_EQ(measure_read_bandwidth_gbs(1, 0, 1), 0.0);
  EXPECT_EQ(measure_read_bandwidth_gbs(0, 1024, 1), 0.0);
}

TEST(Bandwidth, PairedFractionComparesEachWindowWithItsOwnProbe) {
  // 1 GB per token.  Window 1: 10 tokens in 1 s (10 GB/s) between probes of 18 and 22 (mean 20):
  // 0.5.  Window 2: 30 tokens in 1 s (30 GB/s) between 40 and 40: 0.75.  Time-weighted mean
  // 0.625, weighted sd 0.125; the ratio of whole-run means would say 20 / 30 = 0.667.
  const DecodeWindow w[] = {{10, 1.0, 18, 22}, {30, 1.0, 40, 40}};
  PairedFraction f = paired_decode_fraction(w, 1e9);
  EXPECT_EQ(f.n, 2);
  EXPECT_NEAR(f.mean, 0.625, 1e-12);
  EXPECT_NEAR(f.sd, 0.125, 1e-12);
  // Weighted by decode time: the same windows, the second one three times as long.
  const DecodeWindow longer[] = {{10, 1.0, 18, 22}, {90, 3.0, 40, 40}};
  f = paired_decode_fraction(longer, 1e9);
  EXPECT_NEAR(f.mean, (0.5 * 1 + 0.75 * 3) / 4, 1e-12);
  // A window with no time or a missing probe reading is left out; none left gives n == 0.
  const DecodeWindow partial[] = {{10, 1.0, 18, 22}, {5, 0.0, 40, 40}, {5, 1.0, 0, 40}};
  f = paired_decode_fraction(partial, 1e9);
  EXPECT_EQ(f.n, 1);
  EXPECT_NEAR(f.mean, 0.5, 1e-12);
  EXPECT_EQ(f.sd, 0.0);
  EXPECT_EQ(paired_decode_fraction({}, 1e9).n, 0);
}

TEST(RowSize, MatchesGgmlBlockSizes) {
  EXPECT_EQ(row_size(TensorType::kF32, 4096), 4096u * 4);
  EXPECT_EQ(row_size(TensorType::kF16, 4096), 4096u * 2);
  EXPECT_EQ(row_size(TensorType::kBF16, 4096), 4096u * 2);
  EXPECT_EQ(row_size(TensorType::kQ8_0, 4096), 4096u / 32 * 34);
  EXPECT_EQ(row_size(TensorType::kQ4_0, 4096), 4096u / 32 * 18);
  EXPECT_EQ(row_size(TensorType::kQ4_K, 4096), 4096u / 256 * 144);
  EXPECT_EQ(row_size(TensorType::kQ5_K, 4096), 4096u / 256 * 176);
  EXPECT_EQ(row_size(TensorType::kQ6_K, 4096), 4096u / 256 * 210);
  EXPECT_EQ(row_size(TensorType::kQ8_K, 4096), 4096u / 256 * 292);
}

}  // namespace
}  // namespace plumb::kernels
