#include <atomic>
#include <vector>

#include "kernels/kernels.h"
#include "kernel_test_util.h"

namespace plumb::kernels {
namespace {

TEST(ThreadPool, EveryIndexRunsExactlyOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 3, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0};
      pool.parallel_for(n, [&](int64_t begin, int64_t end, int t) {
        ASSERT_LT(begin, end);
        ASSERT_GE(t, 0);
        ASSERT_LT(t, threads);
        calls.fetch_add(1);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
      EXPECT_LE(calls.load(), std::min<int64_t>(n, threads));
    }
  }
}

TEST(ThreadPool, ManySmallCallsAndZeroWork) {
  ThreadPool pool(2);
  int64_t total = 0;
  std::vector<int64_t> per_thread(2, 0);
  for (int call = 0; call < 2000; ++call) {
    pool.parallel_for(4, [&](int64_t begin, int64_t end, int t) { per_thread[static_cast<size_t>(t)] += end - begin; });
  }
  pool.parallel_for(0, [&](int64_t, int64_t, int) { FAIL() << "called for n = 0"; });
  for (int64_t v : per_thread) total += v;
  EXPECT_EQ(total, 8000);
  EXPECT_EQ(per_thread[0], 4000);
}

}  // namespace
}  // namespace plumb::kernels
