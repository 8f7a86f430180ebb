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
