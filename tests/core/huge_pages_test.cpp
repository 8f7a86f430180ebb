#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstring>
#include <fstream>
#include <utility>

#include "support/test_support.h"

namespace plumb {
namespace {

TEST(HugeBuffer, IsAlignedZeroedAndMovable) {
  HugeBuffer b(5 * kHugePageBytes + 123);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 5 * kHugePageBytes + 123);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHugePageBytes, 0u);
  auto* p = static_cast<unsigned char*>(b.data());
  for (size_t i = 0; i < b.size(); i += 4093) ASSERT_EQ(p[i], 0) << i;
  p[b.size() - 1] = 7;  // the last byte is writable

  HugeBuffer moved(std::move(b));
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(moved.data(), p);
  HugeBuffer other(100);
  other = std::move(moved);
  EXPECT_EQ(other.data(), p);
  EXPECT_EQ(static_cast<unsigned char*>(other.data())[other.size() - 1], 7);

  EXPECT_EQ(HugeBuffer(0).data(), nullptr);
}

TEST(HugePages, CountsOnlyTheMappingAsked) {
  // Memory kept in 4 KiB pages reads as 0 bytes in huge pages, not "unknown".
  const size_t len = 4 * kHugePageBytes;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_EQ(madvise(m, len, MADV_NOHUGEPAGE), 0);
  std::memset(m, 1, len);
  EXPECT_EQ(huge_mapped_bytes(m, len), 0);
  munmap(m, len);

  // A HugeBuffer, touched, is mapped with 2 MiB pages where the kernel gives them.
  HugeBuffer b(4 * kHugePageBytes);
  ASSERT_NE(b.data(), nullptr);
  std::memset(b.data(), 1, b.size());
  const int64_t huge = huge_mapped_bytes(b.data(), b.size());
  ASSERT_GE(huge, 0);
  EXPECT_LE(huge, static_cast<int64_t>(b.size() + 2 * kHugePageBytes));  // its mapping only
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  if (mode.empty() || mode.find("[never]") != std::string::npos)
    GTEST_SKIP() << "transparent huge pages are off on this machine ('" << mode << "')";
  if (huge == 0) GTEST_SKIP() << "the kernel gave no 2 MiB page now (memory fragmented?); nothing more to check";
  EXPECT_EQ(huge % static_cast<int64_t>(kHugePageBytes), 0);
}

TEST(HugePages, DropCachedPagesKeepsTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("weights.bin");
  std::string content(3 << 20, 'x');
  for (size_t i = 0; i < content.size(); i += 997) content[i] = static_cast<char>(i % 251);
  test::write_file(path, content);
  ASSERT_TRUE(drop_cached_pages(path).ok());
  EXPECT_EQ(test::read_file(path), content);

  const Status missing = drop_cached_pages(dir.file("absent.gguf"));
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("absent.gguf"), std::string::npos) << missing.message();
}

}  // namespace
}  // namespace plumb
