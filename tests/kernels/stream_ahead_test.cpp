// StreamAhead (kernels/x86/prefetch.h): where a decode kernel asks for the bytes it reads next.
// A prefetch never faults, so a wrong bound shows up only as lost bandwidth; these tests pin the
// arithmetic instead.
#if defined(__x86_64__)
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/x86/prefetch.h"

namespace plumb::kernels {
namespace {

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(StreamAhead, AsksAFixedDistanceAheadUntilTheCallsLastSpanThenStaysThere) {
  // 64 rows of a 2048-column q4_0 matrix (1152 bytes), read in groups of 144 bytes.
  constexpr size_t kRow = 1152, kSpan = 144;
  constexpr int kRows = 64;
  std::vector<uint8_t> rows(kRows * kRow);
  const StreamAhead ahead(rows.data(), kRow, kRows, kRow, kSpan);
  const uintptr_t end = addr(rows.data()) + rows.size();
  size_t clamped = 0;
  for (size_t off = 0; off + kSpan <= rows.size(); off += kSpan) {
    const uintptr_t at = addr(ahead(rows.data() + off));
    const uintptr_t want = addr(rows.data()) + off + kStreamPrefetchBytes;
    if (want + kSpan <= end) {
      EXPECT_EQ(at, want) << "offset " << off;
    } else {
      EXPECT_EQ(at, end - kSpan) << "offset " << off;
      ++clamped;
    }
    EXPECT_LE(at + kSpan, end);
  }
  // The last 12 KB of the call's reads ask for its final span, not for the rows after it.
  EXPECT_EQ(clamped, (kStreamPrefetchBytes + kSpan - 1) / kSpan);
}

TEST(StreamAhead, EndsAtTheLastRowsBytesWhenRowsAreFurtherApartThanTheirLength) {
  constexpr size_t kRowBytes = 1000, kStride = 1536, kSpan = 100;
  constexpr int kRows = 20;
  std::vector<uint8_t> rows((kRows - 1) * kStride + kRowBytes);
  const StreamAhead ahead(rows.data(), kStride, kRows, kRowBytes, kSpan);
  EXPECT_EQ(addr(ahead(rows.data())), addr(rows.data()) + kStreamPrefetchBytes);
  const uintptr_t last = addr(rows.data()) + rows.size() - kSpan;
  EXPECT_EQ(addr(ahead(rows.data() + rows.size() - kRowBytes)), last);
  // A distance of its own (the K-quant kernel's: four rows ahead, at least 8 KB).
  EXPECT_EQ(addr(ahead(rows.data(), 4 * kStride)), addr(rows.data()) + 4 * kStride);
  EXPECT_EQ(addr(ahead(rows.data() + 25000, 4 * kStride)), last);
}

TEST(StreamAhead, ACallShorterThanOneSpanAsksForItsOwnFirstBytes) {
  std::vector<uint8_t> rows(100);
  const StreamAhead one(rows.data(), 100, 1, 100, 144);
  EXPECT_EQ(addr(one(rows.data())), addr(rows.data()));
  const StreamAhead none(rows.data(), 100, 0, 100, 144);
  EXPECT_EQ(addr(none(rows.data() + 50)), addr(rows.data()));
}

}  // namespace
}  // namespace plumb::kernels
#endif
