// core/huge_pages.h — 2 MiB pages for the big read streams: the mapped weights and the
// bandwidth probe's buffer.
//
// Decoding streams every weight once per token.  With 4 KiB pages that is a TLB miss, a page
// walk and a restart of the hardware prefetchers (which stop at page boundaries) every 4 KiB;
// with 2 MiB pages, one every 2 MiB.  On the development VM (Zen 4, Linux 6.18, ext4) a 1B q4_0
// file decodes at 56-64 tok/s from 2 MiB pages against 50-55 from 4 KiB pages, and a plain
// read of a 1 GiB buffer is 5-15% faster (docs/kernels.md, "2 MiB pages").
//
// Linux only (madvise, /proc/self/smaps, posix_fadvise); elsewhere these do nothing and
// huge_mapped_bytes() says "unknown".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "plumb/status.h"

namespace plumb {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Asks the kernel for 2 MiB pages over [addr, addr + len) (MADV_HUGEPAGE).  Best effort: for
// anonymous memory it takes effect at first touch; for a mapped file, where the page cache
// holds the file in 2 MiB folios (which it builds when a file is read in through such a
// mapping, on filesystems with large folios: XFS, recent ext4, tmpfs with huge=).
void advise_huge_pages(const void* addr, size_t len);

// Bytes of the mappings overlapping [addr, addr + len) now mapped with 2 MiB pages
// (AnonHugePages + FilePmdMapped of /proc/self/smaps), or -1 where that cannot be read.
int64_t huge_mapped_bytes(const void* addr, size_t len);

// Drops the clean pages of `path` from the OS page cache (POSIX_FADV_DONTNEED), so that the
// next read through a MADV_HUGEPAGE mapping brings it back in 2 MiB folios.  Pages that some
// process has mapped stay; dirty pages are written first.  Costs one read of the file later.
Status drop_cached_pages(const std::string& path);

// What recache_in_huge_pages found and did.
enum class Recache {
  kKept,         // the file is in 2 MiB pages already (or, without PAGEMAP_SCAN, 3/4 of it), or
                 // it is under 64 MiB
  kReread,       // cached pages were dropped: the next reads bring them back in 2 MiB pages
  kUnsupported,  // 2 MiB pages are off, the mapping is not 2 MiB-aligned, or the filesystem
                 // gave a window read afresh small pages again: left as it is
};
struct RecacheResult {
  Recache what = Recache::kKept;
  uint64_t reread_bytes = 0;  // kReread: how much of the file is read again from disk (now or by the load)
};

// For `map`, a fresh read-only MAP_PRIVATE mapping of the whole of file `fd` (size bytes) with
// advise_huge_pages() on it, before anything else reads it.  A file is cached in small pages
// when it was written in small pieces (a download, a copy), and stays so until the cache lets
// it go; decoding from it is ~25% slower (docs/kernels.md).  A cached file can also lose some
// 2 MiB pages over time (seen on the development VM while other programs read the same files).
// This maps every cached 2 MiB window (touching one byte; windows not cached are left for the
// load to read in as 2 MiB pages) and asks the kernel which are mapped with small pages
// (PAGEMAP_SCAN, Linux 6.7+).  If any are, it tests that one of them, dropped and read again,
// comes back as a 2 MiB page, and then drops the cached pages of the others (after writing dirty ones; pages other
// processes have mapped stay), so that the load reads them back from disk as 2 MiB pages: once,
// since the cache then keeps them so.  Without PAGEMAP_SCAN it samples 16 windows and, when
// over a quarter are small, drops the whole file after the same test.  Files under 64 MiB are
// kept as they are.  `pagemap_scan` false takes the sampled way even where the kernel has
// PAGEMAP_SCAN (for tests).
RecacheResult recache_in_huge_pages(int fd, const void* map, size_t size, bool pagemap_scan = true);

// Zeroed anonymous memory aligned to 2 MiB, with 2 MiB pages asked for before first touch.
class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t bytes);  // data() is nullptr when the allocation fails
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& o) noexcept;
  HugeBuffer& operator=(HugeBuffer&& o) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;
  size_t map_len_ = 0;
};

}  // namespace plumb
