#include "core/huge_pages.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/ioctl.h>
#include <sys/mman.h>
#endif

namespace plumb {

void advise_huge_pages(const void* addr, size_t len) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (addr == nullptr || len == 0) return;
  // madvise wants a page-aligned start; the pages before addr belong to the same mapping.
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(addr) & ~(page - 1);
  const auto end = reinterpret_cast<uintptr_t>(addr) + len;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)addr;
  (void)len;
#endif
}

int64_t huge_mapped_bytes(const void* addr, size_t len) {
#if defined(__linux__)
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return -1;
  const auto lo = reinterpret_cast<uintptr_t>(addr), hi = lo + len;
  bool inside = false, found = false;
  int64_t kib = 0;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long vb = 0, ve = 0;
    // A mapping's header line is "start-end perms ..."; its fields follow as "Name: N kB" (no
    // field name is hex digits then '-').
    if (std::sscanf(line, "%llx-%llx ", &vb, &ve) == 2) {
      inside = vb < hi && ve > lo;
      continue;
    }
    long long v = 0;
    if (inside && (std::sscanf(line, "AnonHugePages: %lld kB", &v) == 1 ||
                   std::sscanf(line, "FilePmdMapped: %lld kB", &v) == 1)) {
      kib += v;
      found = true;
    }
  }
  std::fclose(f);
  return found ? kib * 1024 : -1;
#else
  (void)addr;
  (void)len;
  return -1;
#endif
}

Status drop_cached_pages(const std::string& path) {
#if defined(__linux__)
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
  // Dirty pages are not dropped: write them first (a file plumb has just written).
  fdatasync(fd);
  const int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) return Status::IOError(path + ": cannot drop its cached pages: " + std::strerror(rc));
#else
  (void)path;
#endif
  return Status::Ok();
}

#if defined(__linux__)
namespace {

bool transparent_huge_pages_off() {
  std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
  if (f == nullptr) return true;
  char line[128] = {};
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  return !read || std::strstr(line, "[never]") != nullptr;
}

void touch(const uint8_t* p) {
  volatile uint8_t sink = *reinterpret_cast<const volatile uint8_t*>(p);
  (void)sink;
}

// Reads one byte of the window at w and says whether that mapped it with a 2 MiB page.
bool touch_maps_huge(const uint8_t* w, const void* map, size_t size) {
  const int64_t before = huge_mapped_bytes(map, size);
  touch(w);
  const int64_t after = huge_mapped_bytes(map, size);
  return before >= 0 && after - before >= static_cast<int64_t>(kHugePageBytes);
}

// The PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7+), spelled out here because the
// <linux/fs.h> of older kernel headers (Debian 12's) lacks it.
struct PageRegion {
  uint64_t start, end, categories;
};
struct PmScanArg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
constexpr uint64_t kPageIsPresent = uint64_t{1} << 3, kPageIsHuge = uint64_t{1} << 6;
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);

// The 2 MiB windows of [base, base + n * 2 MiB) that are mapped, but not with a 2 MiB page, as
// indices from base; nullopt where the kernel cannot say.
std::optional<std::vector<size_t>> small_windows(uintptr_t base, size_t n) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<size_t> out;
  PageRegion regions[64];
  const uint64_t end = base + n * kHugePageBytes;
  for (uint64_t start = base; start < end;) {
    PmScanArg a{};
    a.size = sizeof a;
    a.start = start;
    a.end = end;
    a.vec = reinterpret_cast<uintptr_t>(regions);
    a.vec_len = 64;
    a.category_inverted = kPageIsHuge;  // present and not huge
    a.category_mask = kPageIsPresent | kPageIsHuge;
    a.return_mask = kPageIsPresent | kPageIsHuge;
    const long found = ioctl(fd, kPagemapScan, &a);
    if (found < 0 || a.walk_end <= start) {
      ::close(fd);
      return std::nullopt;
    }
    for (long i = 0; i < found; ++i)
      for (uint64_t w = (regions[i].start - base) / kHugePageBytes; base + w * kHugePageBytes < regions[i].end; ++w)
        if (out.empty() || out.back() != w) out.push_back(static_cast<size_t>(w));
    start = a.walk_end;
  }
  ::close(fd);
  return out;
}

// Unmaps [p, p + n) of the mapping `bytes` of file fd (our page-table entries hold its pages in
// the cache) and drops those cached pages.
bool drop_range(int fd, const uint8_t* bytes, const uint8_t* p, size_t n) {
  return madvise(const_cast<uint8_t*>(p), n, MADV_DONTNEED) == 0 &&
         posix_fadvise(fd, static_cast<off_t>(p - bytes), static_cast<off_t>(n), POSIX_FADV_DONTNEED) == 0;
}

bool drop_window(int fd, const uint8_t* bytes, const uint8_t* w) { return drop_range(fd, bytes, w, kHugePageBytes); }

// Without PAGEMAP_SCAN: 16 sampled windows say how much of the file is in small pages, and over
// a quarter drops the whole file.
RecacheResult recache_sampled(int fd, const uint8_t* bytes, size_t size, size_t windows) {
  constexpr size_t kSamples = 16;
  size_t huge = 0;
  const uint8_t* small = nullptr;
  for (size_t i = 0; i < kSamples; ++i) {
    const uint8_t* w = bytes + i * (windows - 1) / (kSamples - 1) * kHugePageBytes;
    if (touch_maps_huge(w, bytes, size))
      ++huge;
    else
      small = w;
  }
  // A quarter of the file in small pages costs ~6%.
  if (4 * huge >= 3 * kSamples) return {Recache::kKept, 0};
  // Does this filesystem give 2 MiB pages to a window read afresh?  Dirty pages are not
  // dropped: write them first (a file just written).
  fdatasync(fd);
  if (!drop_window(fd, bytes, small) || !touch_maps_huge(small, bytes, size)) return {Recache::kUnsupported, 0};
  if (!drop_range(fd, bytes, bytes, size)) return {Recache::kUnsupported, 0};
  return {Recache::kReread, size};
}

}  // namespace
#endif

RecacheResult recache_in_huge_pages(int fd, const void* map, size_t size, bool pagemap_scan) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kMinBytes = size_t{64} << 20;
  if (map == nullptr || size < kMinBytes) return {Recache::kKept, 0};
  const auto base = reinterpret_cast<uintptr_t>(map);
  // A 2 MiB page maps a 2 MiB-aligned stretch of the file at a 2 MiB-aligned address.
  if (base % kHugePageBytes != 0 || transparent_huge_pages_off()) return {Recache::kUnsupported, 0};
  const auto* bytes = static_cast<const uint8_t*>(map);
  const size_t windows = size / kHugePageBytes;
  if (!pagemap_scan || !small_windows(base, 1)) return recache_sampled(fd, bytes, size, windows);
  // Map every cached window (touching its first byte) and ask which are mapped small.  Windows
  // not cached are left to the load, which reads them in as 2 MiB pages under its progress bar.
  for (size_t i = 0; i < windows; ++i) {
    const uint8_t* w = bytes + i * kHugePageBytes;
    unsigned char cached = 0;
    if (mincore(const_cast<uint8_t*>(w), 4096, &cached) == 0 && (cached & 1) != 0) touch(w);
  }
  const auto small = small_windows(base, windows);
  if (!small) return recache_sampled(fd, bytes, size, windows);
  if (small->empty()) return {Recache::kKept, 0};
  // Does this filesystem give 2 MiB pages to a window read afresh?  Dirty pages are not
  // dropped: write them first (a file just written).
  fdatasync(fd);
  const uint8_t* test = bytes + small->front() * kHugePageBytes;
  if (!drop_window(fd, bytes, test)) return {Recache::kUnsupported, 0};
  touch(test);
  const auto again = small_windows(reinterpret_cast<uintptr_t>(test), 1);
  if (!again || !again->empty()) return {Recache::kUnsupported, 0};
  // Drop only the windows in small pages; the load reads them back in 2 MiB pages.
  uint64_t reread = kHugePageBytes;  // the test window
  for (size_t i = 1; i < small->size(); ++i)
    if (drop_window(fd, bytes, bytes + (*small)[i] * kHugePageBytes)) reread += kHugePageBytes;
  return {Recache::kReread, reread};
#else
  (void)fd;
  (void)map;
  (void)size;
  (void)pagemap_scan;
  return {Recache::kUnsupported, 0};
#endif
}

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
#if defined(__linux__)
  // Over-allocate by one huge page so the start can be aligned to one.
  const size_t len = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes + kHugePageBytes;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  map_ = m;
  map_len_ = len;
  const auto aligned = (reinterpret_cast<uintptr_t>(m) + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  data_ = reinterpret_cast<void*>(aligned);
  size_ = bytes;
  advise_huge_pages(data_, bytes);
#else
  map_ = std::calloc(1, bytes);
  data_ = map_;
  size_ = map_ != nullptr ? bytes : 0;
#endif
}

void HugeBuffer::release() {
#if defined(__linux__)
  if (map_ != nullptr) munmap(map_, map_len_);
#else
  std::free(map_);
#endif
  map_ = data_ = nullptr;
  map_len_ = size_ = 0;
}

HugeBuffer::~HugeBuffer() { release(); }

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      map_(std::exchange(o.map_, nullptr)),
      map_len_(std::exchange(o.map_len_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    map_ = std::exchange(o.map_, nullptr);
    map_len_ = std::exchange(o.map_len_, 0);
  }
  return *this;
}

}  // namespace plumb
