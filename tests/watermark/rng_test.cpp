// MT19937, randperm, fastmod and the hashint table against independent references
// (std::mt19937, the % operator, a materialised permutation).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "watermark/mt19937.h"
#include "watermark/prf.h"
#include "watermark/randperm.h"

namespace plumb::watermark {
namespace {

TEST(Mt19937, FirstOutputsForDefaultSeed) {
  // Published values for seed 5489 (Matsumoto & Nishimura's reference; also std::mt19937's).
  Mt19937 g(5489u);
  EXPECT_EQ(g.next(), 3499211612u);
  EXPECT_EQ(g.next(), 581869302u);
  EXPECT_EQ(g.next(), 3890346734u);
  EXPECT_EQ(g.next(), 3586334585u);
  EXPECT_EQ(g.next(), 545404204u);
  Mt19937 h(5489u);
  uint32_t v = 0;
  for (int i = 0; i < 10000; ++i) v = h.next();
  EXPECT_EQ(v, 4123659995u);  // C++ standard [rand.predef]: 10000th output of default mt19937
}

TEST(Mt19937, MatchesStdForManySeedsAndBlocks) {
  for (uint32_t seed : {0u, 1u, 42u, 514714184u, 2296494454u, 0xffffffffu}) {
    std::mt19937 ref(seed);
    Mt19937 a(seed), b(seed);
    for (int blk = 0; blk < 4; ++blk) {
      const uint32_t* block = b.next_block();
      for (int i = 0; i < Mt19937::kN; ++i) {
        const uint32_t want = ref();
        ASSERT_EQ(a.next(), want) << "seed " << seed << " output " << blk * Mt19937::kN + i;
        ASSERT_EQ(block[i], want) << "seed " << seed << " block " << blk;
      }
    }
  }
}

TEST(FastMod, ExactForRandomAndEdgeOperands) {
  std::mt19937_64 rng(7);
  std::vector<uint32_t> divisors = {1, 2, 3, 7, 512, 32000, 128256, 1000003, 0x7fffffffu, 0xfffffffeu, 0xffffffffu};
  for (int i = 0; i < 200; ++i) divisors.push_back(static_cast<uint32_t>(rng()) | 1u);
  for (uint32_t d : divisors) {
    const uint64_t m = fastmod_magic(d);
    for (uint32_t a : {0u, 1u, d - 1, d, d + 1, 0xffffffffu, 0xfffffffeu}) ASSERT_EQ(fastmod(a, m, d), a % d) << a << " % " << d;
    for (int j = 0; j < 2000; ++j) {
      const auto a = static_cast<uint32_t>(rng());
      ASSERT_EQ(fastmod(a, m, d), a % d) << a << " % " << d;
    }
  }
}

TEST(Randperm, IsAPermutationAndDeterministic) {
  for (int32_t n : {0, 1, 2, 3, 10, 1000}) {
    auto p = randperm(123u, n);
    ASSERT_EQ(static_cast<int32_t>(p.size()), n);
    auto sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int32_t i = 0; i < n; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
    EXPECT_EQ(p, randperm(123u, n));
  }
  EXPECT_NE(randperm(1u, 100), randperm(2u, 100));
}

TEST(Randperm, SmallCaseByHand) {
  // n = 3 from seed 5489: outputs 3499211612, 581869302.  3499211612 % 3 = 2 -> swap r0,r2 = [2,1,0];
  // 581869302 % 2 = 0 -> unchanged.
  EXPECT_EQ(randperm(5489u, 3), (std::vector<int32_t>{2, 1, 0}));
}

TEST(Randperm, PrefixAndPositionTrackingAgreeWithFullPermutation) {
  PermScratch scratch;
  std::vector<int32_t> prefix;
  for (uint32_t n : {2u, 3u, 5u, 64u, 700u, 1500u}) {
    for (uint32_t seed : {0u, 99u, 514714184u}) {
      const auto full = randperm(seed, static_cast<int32_t>(n));
      for (uint32_t k : {1u, n / 4, n / 2, n - 1, n}) {
        if (k == 0) continue;
        FastModTable table(n, prefix_steps(n, k));
        perm_prefix(seed, n, k, table, scratch, prefix);
        ASSERT_EQ(prefix, std::vector<int32_t>(full.begin(), full.begin() + k)) << "n=" << n << " k=" << k;
        std::vector<bool> in(n, false);
        for (uint32_t i = 0; i < k; ++i) in[static_cast<size_t>(full[i])] = true;
        for (uint32_t t = 0; t < n; ++t) ASSERT_EQ(in_perm_prefix(seed, n, k, t, table), in[t]) << "n=" << n << " k=" << k << " t=" << t;
        EXPECT_FALSE(in_perm_prefix(seed, n, k, n, table));
      }
    }
  }
}

// The vectorised remainders (doubles) against integer %, on random outputs and on the
// edges where rounding could slip: multiples of the divisor, one below, 0 and 2^32 - 1.
TEST(StepTargets, ExactRemainders) {
  std::mt19937 rng(77);
  for (uint32_t n : {2u, 3u, 7u, 1000u, 32000u, 128256u, (1u << 24) + 1, 2147483647u}) {
    const uint32_t steps = std::min<uint32_t>(n - 1, 2000);
    FastModTable table(n, steps);
    for (uint32_t first : {0u, steps / 2, steps - 1}) {
      const uint32_t count = std::min<uint32_t>(steps - first, 700);
      std::vector<uint32_t> u(count), out(count);
      for (uint32_t s = 0; s < count; ++s) {
        const uint32_t d = n - first - s;
        const uint64_t m = rng() % (uint64_t{0xFFFFFFFF} / d + 1);
        switch (s % 6) {
          case 0: u[s] = rng(); break;
          case 1: u[s] = static_cast<uint32_t>(m * d); break;                      // multiple of d
          case 2: u[s] = static_cast<uint32_t>(m * d + d - 1 <= 0xFFFFFFFFu ? m * d + d - 1 : m * d); break;
          case 3: u[s] = 0xFFFFFFFFu; break;
          case 4: u[s] = 0; break;
          default: u[s] = static_cast<uint32_t>((uint64_t{0xFFFFFFFF} / d) * d); break;  // largest multiple
        }
      }
      step_targets(u.data(), first, count, table, out.data());
      for (uint32_t s = 0; s < count; ++s) {
        const uint32_t i = first + s;
        ASSERT_EQ(out[s], i + u[s] % (n - i)) << "n=" << n << " i=" << i << " u=" << u[s];
      }
    }
  }
}

TEST(Hashint, TableIsAPermutationOfTheRightSize) {
  const auto table = hashint_table();
  ASSERT_EQ(table.size(), static_cast<size_t>(kHashintTableSize));
  std::vector<bool> seen(table.size(), false);
  for (int32_t v : table) {
    ASSERT_GE(v, 0);
    ASSERT_LT(v, kHashintTableSize);
    ASSERT_FALSE(seen[static_cast<size_t>(v)]);
    seen[static_cast<size_t>(v)] = true;
  }
  EXPECT_EQ(table.data(), hashint_table().data());  // built once
  // hashint wraps negative inputs the Python way: -1 -> table[1000002] + 1.
  EXPECT_EQ(hashint(-1), table[1000002] + 1);
  EXPECT_EQ(hashint(1000003 + 5), table[5] + 1);
  EXPECT_EQ(hashint(0), table[0] + 1);
}

TEST(Prf, SeedFromPrfKeyUsesPythonModulo) {
  EXPECT_EQ(seed_from_prf_key(430011443784), static_cast<uint32_t>(430011443784ull));
  // -1 % (2^64-1) == 2^64 - 2 -> low 32 bits 0xfffffffe.
  EXPECT_EQ(seed_from_prf_key(-1), 0xfffffffeu);
  // 2^64 - 1 itself reduces to 0; 2^64 reduces to 1.
  const __int128 two64 = static_cast<__int128>(1) << 64;
  EXPECT_EQ(seed_from_prf_key(two64 - 1), 0u);
  EXPECT_EQ(seed_from_prf_key(two64), 1u);
}

}  // namespace
}  // namespace plumb::watermark
