// gguf::File::open and the OS page cache (plumb/page_cache.h): a file written in small pieces
// is read back once in 2 MiB pages; a file plumb wrote is already in them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/serialize.h"
#include "plumb/gguf.h"
#include "support/test_support.h"

namespace plumb::gguf {
namespace {

bool transparent_huge_pages_on() {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  return !mode.empty() && mode.find("[never]") == std::string::npos;
}

// Copies `from` to `to` 4 KiB at a time, as a download does.
void copy_in_small_pieces(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY), out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  char buf[4096];
  for (ssize_t n; (n = ::read(in, buf, sizeof buf)) > 0;) ASSERT_EQ(::write(out, buf, static_cast<size_t>(n)), n);
  ::close(in);
  ::close(out);
}

TEST(PageCache, AFileCachedInSmallPagesIsReadBackOnceAndAWrittenOneIsKept) {
  if (!transparent_huge_pages_on()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  test::TempDir dir;
  const std::string written = dir.file("written.gguf"), downloaded = dir.file("downloaded.gguf");
  std::vector<uint8_t> bytes(72u << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 131 + i / 4096) % 251);
  Writer w;
  ASSERT_TRUE(w.add_tensor_raw("blob", {static_cast<int64_t>(bytes.size())}, TensorType::kI8, bytes).ok());
  // Through AtomicFile (what Writer and plumb synth write with) in pieces of 1000 bytes, as
  // synth writes tensor by tensor: its buffer turns them into whole, aligned 2 MiB writes.
  const std::vector<uint8_t> file = w.to_bytes();
  AtomicFile out;
  ASSERT_TRUE(out.open(written).ok());
  for (size_t i = 0; i < file.size(); i += 1000)
    ASSERT_TRUE(out.write({file.data() + i, std::min<size_t>(1000, file.size() - i)}).ok());
  ASSERT_TRUE(out.commit().ok());
  copy_in_small_pieces(written, downloaded);

  OpenOptions keep;
  keep.page_cache = PageCache::kKeep;
  auto kept = File::open(downloaded, keep);
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ((*kept)->page_cache_reread_bytes(), 0u);
  kept->reset();

  auto first = File::open(downloaded);  // kAuto
  ASSERT_TRUE(first.ok()) << first.status().message();
  if ((*first)->page_cache_reread_bytes() == 0)
    GTEST_SKIP() << "this kernel or filesystem (of " << dir.path() << ") gives no 2 MiB page-cache pages";
  const auto data = (*first)->tensor_data(*(*first)->find_tensor("blob"));
  ASSERT_EQ(data.size(), bytes.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), bytes.begin()));
  first->reset();

  // Read back in 2 MiB pages, the copy is kept from now on; so is the file AtomicFile wrote in
  // whole 2 MiB pieces, which was never in small pages.
  auto second = File::open(downloaded);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->page_cache_reread_bytes(), 0u);
  auto original = File::open(written);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ((*original)->page_cache_reread_bytes(), 0u);
}

}  // namespace
}  // namespace plumb::gguf
