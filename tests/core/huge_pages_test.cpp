#include "core/huge_pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
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

// A file written 4 KiB at a time is re-read, the PAGEMAP_SCAN way (Linux 6.7+) and the sampled
// way older kernels take.
TEST(HugePages, RecacheRereadsAFileCachedInSmallPages) {
  if (!transparent_huge_pages_on()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  for (const bool scan : {true, false}) {
    SCOPED_TRACE(scan ? "PAGEMAP_SCAN" : "sampled");
    test::TempDir dir;
    const std::string path = dir.file("download.gguf");
    const size_t size = (72u << 20) + 12345;
    write_in_pieces(path, size, 4096);
    {
      Mapping m(path);
      ASSERT_NE(m.map, MAP_FAILED);
      const RecacheResult r = recache_in_huge_pages(m.fd, m.map, m.size, scan);
      if (r.what == Recache::kUnsupported)
        GTEST_SKIP() << "this kernel or filesystem (of " << dir.path() << ") gives no 2 MiB page-cache pages";
      ASSERT_EQ(r.what, Recache::kReread) << "a file written 4 KiB at a time was cached in 2 MiB pages?";
      EXPECT_GE(r.reread_bytes, size / kHugePageBytes * kHugePageBytes);
      // Nothing is lost, and the reads that follow bring the file back in 2 MiB pages.
      for (size_t i = 0; i < m.size; i += 4099) ASSERT_EQ(m.bytes()[i], pattern(i)) << i;
      m.touch_all();
      EXPECT_GE(huge_mapped_bytes(m.map, m.size), static_cast<int64_t>(m.size * 9 / 10));
    }
    // The cache now holds it in 2 MiB pages: the next load keeps it.
    Mapping again(path);
    const RecacheResult r = recache_in_huge_pages(again.fd, again.map, again.size, scan);
    EXPECT_EQ(r.what, Recache::kKept);
    EXPECT_EQ(r.reread_bytes, 0u);
    EXPECT_EQ(again.bytes()[size - 1], pattern(size - 1));
  }
}

// A file in 2 MiB pages but for a few windows, which another program's 4 KiB mapping read back:
// only those windows are dropped and read again (where the kernel has PAGEMAP_SCAN).
TEST(HugePages, RecacheRereadsOnlyTheWindowsInSmallPages) {
  if (!transparent_huge_pages_on()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  test::TempDir dir;
  const std::string path = dir.file("model.gguf");
  const size_t windows = 36, size = windows * kHugePageBytes;
  write_in_pieces(path, size, kHugePageBytes);  // whole 2 MiB writes: cached in 2 MiB pages
  const size_t small[] = {3, 20, 35};
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    fdatasync(fd);
    void* other = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ASSERT_NE(other, MAP_FAILED);
    ASSERT_EQ(madvise(other, size, MADV_NOHUGEPAGE), 0);
    for (size_t w : small) {
      const auto off = static_cast<off_t>(w * kHugePageBytes);
      posix_fadvise(fd, off, static_cast<off_t>(kHugePageBytes), POSIX_FADV_DONTNEED);
      const auto* window = static_cast<const uint8_t*>(other) + off;
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < kHugePageBytes; i += 4096) sink = sink + window[i];
    }
    munmap(other, size);
    ::close(fd);
  }
  {
    Mapping look(path);
    look.touch_all();
    const int64_t huge = huge_mapped_bytes(look.map, look.size);
    if (huge != static_cast<int64_t>((windows - 3) * kHugePageBytes))
      GTEST_SKIP() << "could not set the file up with 3 windows in small pages (" << huge
                   << " bytes in 2 MiB pages)";
  }
  Mapping m(path);
  const RecacheResult r = recache_in_huge_pages(m.fd, m.map, m.size);
  if (r.what == Recache::kKept)
    GTEST_SKIP() << "this kernel has no PAGEMAP_SCAN (Linux 6.7+): 3 of 36 windows are kept";
  ASSERT_EQ(r.what, Recache::kReread);
  EXPECT_EQ(r.reread_bytes, 3 * kHugePageBytes);
  // The windows in 2 MiB pages are still cached; of the small ones, the first (the test) was
  // read again already and the others were dropped.
  std::vector<unsigned char> resident(size / 4096);
  ASSERT_EQ(mincore(m.map, size, resident.data()), 0);
  auto cached = [&](size_t w) { return (resident[w * kHugePageBytes / 4096] & 1) != 0; };
  EXPECT_TRUE(cached(0));
  EXPECT_TRUE(cached(3));
  EXPECT_TRUE(cached(19));
  EXPECT_FALSE(cached(20));
  EXPECT_TRUE(cached(34));
  EXPECT_FALSE(cached(35));
  m.touch_all();
  EXPECT_EQ(huge_mapped_bytes(m.map, m.size), static_cast<int64_t>(size));
  for (size_t i = 0; i < size; i += 4099) ASSERT_EQ(m.bytes()[i], pattern(i)) << i;
}

// A file not cached at all is left for the load to read (under its progress bar): nothing is
// read before it.
TEST(HugePages, RecacheLeavesAFileNotCachedToTheLoad) {
  if (!transparent_huge_pages_on()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  test::TempDir dir;
  const std::string path = dir.file("cold.gguf");
  const size_t size = 36 * kHugePageBytes;
  write_in_pieces(path, size, 4096);
  ASSERT_TRUE(drop_cached_pages(path).ok());
  Mapping m(path);
  std::vector<unsigned char> resident(size / 4096);
  ASSERT_EQ(mincore(m.map, size, resident.data()), 0);
  if (std::count_if(resident.begin(), resident.end(), [](unsigned char c) { return c & 1; }) > 0)
    GTEST_SKIP() << "the page cache kept some of the file after POSIX_FADV_DONTNEED";
  const RecacheResult r = recache_in_huge_pages(m.fd, m.map, m.size);
  EXPECT_EQ(r.reread_bytes, 0u);
  ASSERT_EQ(mincore(m.map, size, resident.data()), 0);
  const auto cached =
      std::count_if(resident.begin(), resident.end(), [](unsigned char c) { return (c & 1) != 0; });
  // The sampled way (no PAGEMAP_SCAN) reads its 16 windows; the PAGEMAP_SCAN way reads none.
  EXPECT_LE(cached, static_cast<long>(16 * kHugePageBytes / 4096));
  if (r.what == Recache::kKept && cached > 0)
    GTEST_SKIP() << "no PAGEMAP_SCAN here: the sampled way read its windows";
  EXPECT_EQ(cached, 0);
}

TEST(HugePages, RecacheLeavesSmallFilesAlone) {
  test::TempDir dir;
  const std::string path = dir.file("small.gguf");
  write_in_pieces(path, 8u << 20, 4096);
  Mapping m(path);
  ASSERT_NE(m.map, MAP_FAILED);
  EXPECT_EQ(recache_in_huge_pages(m.fd, m.map, m.size).what, Recache::kKept);
  EXPECT_EQ(recache_in_huge_pages(m.fd, nullptr, 0).what, Recache::kKept);
}

}  // namespace
}  // namespace plumb
