#include "core/huge_pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

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

bool transparent_huge_pages_on() {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  return !mode.empty() && mode.find("[never]") == std::string::npos;
}

uint8_t pattern(size_t i) { return static_cast<uint8_t>((i * 131 + i / 4096) % 251); }

// Writes `size` bytes of pattern() in pieces of `piece` bytes, as a download or a copy does.
void write_in_pieces(const std::string& path, size_t size, size_t piece) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> buf(piece);
  for (size_t off = 0; off < size; off += piece) {
    for (size_t i = 0; i < piece; ++i) buf[i] = pattern(off + i);
    ASSERT_EQ(::write(fd, buf.data(), piece), static_cast<ssize_t>(piece));
  }
  ::close(fd);
}

// A read-only mapping of a whole file that asks for 2 MiB pages, as gguf::File::open makes.
struct Mapping {
  int fd = -1;
  void* map = MAP_FAILED;
  size_t size = 0;
  explicit Mapping(const std::string& path) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    size = static_cast<size_t>(lseek(fd, 0, SEEK_END));
    map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) advise_huge_pages(map, size);
  }
  ~Mapping() {
    if (map != MAP_FAILED) munmap(map, size);
    ::close(fd);
  }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(map); }
  // Reads one byte of every 4 KiB page, as loading a model does.
  void touch_all() const {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < size; i += 4096) sink = sink + bytes()[i];
  }
};

TEST(HugePages, RecacheRereadsAFileCachedInSmallPages) {
  if (!transparent_huge_pages_on()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  test::TempDir dir;
  const std::string path = dir.file("download.gguf");
  const size_t size = (72u << 20) + 12345;
  write_in_pieces(path, size, 4096);
  {
    Mapping m(path);
    ASSERT_NE(m.map, MAP_FAILED);
    const Recache r = recache_in_huge_pages(m.fd, m.map, m.size);
    if (r == Recache::kUnsupported)
      GTEST_SKIP() << "this kernel or filesystem (of " << dir.path() << ") gives no 2 MiB page-cache pages";
    ASSERT_EQ(r, Recache::kReread) << "a file written 4 KiB at a time was cached in 2 MiB pages?";
    // Nothing is lost, and the reads that follow bring the file back in 2 MiB pages.
    for (size_t i = 0; i < m.size; i += 4099) ASSERT_EQ(m.bytes()[i], pattern(i)) << i;
    m.touch_all();
    EXPECT_GE(huge_mapped_bytes(m.map, m.size), static_cast<int64_t>(m.size * 9 / 10));
  }
  // The cache now holds it in 2 MiB pages: the next load keeps it.
  Mapping again(path);
  EXPECT_EQ(recache_in_huge_pages(again.fd, again.map, again.size), Recache::kKept);
  EXPECT_EQ(again.bytes()[size - 1], pattern(size - 1));
}

TEST(HugePages, RecacheLeavesSmallFilesAlone) {
  test::TempDir dir;
  const std::string path = dir.file("small.gguf");
  write_in_pieces(path, 8u << 20, 4096);
  Mapping m(path);
  ASSERT_NE(m.map, MAP_FAILED);
  EXPECT_EQ(recache_in_huge_pages(m.fd, m.map, m.size), Recache::kKept);
  EXPECT_EQ(recache_in_huge_pages(m.fd, nullptr, 0), Recache::kKept);
}

}  // namespace
}  // namespace plumb
