#include "core/huge_pages.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#if defined(__linux__)
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

// Reads one byte of the window at w and says whether that mapped it with a 2 MiB page.
bool touch_maps_huge(const uint8_t* w, const void* map, size_t size) {
  const int64_t before = huge_mapped_bytes(map, size);
  volatile uint8_t sink = *reinterpret_cast<const volatile uint8_t*>(w);
  (void)sink;
  const int64_t after = huge_mapped_bytes(map, size);
  return before >= 0 && after - before >= static_cast<int64_t>(kHugePageBytes);
}

}  // namespace
#endif

Recache recache_in_huge_pages(int fd, const void* map, size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kMinBytes = size_t{64} << 20;
  constexpr size_t kSamples = 16;
  if (map == nullptr || size < kMinBytes) return Recache::kKept;
  const auto base = reinterpret_cast<uintptr_t>(map);
  // A 2 MiB page maps a 2 MiB-aligned stretch of the file at a 2 MiB-aligned address.
  if (base % kHugePageBytes != 0 || transparent_huge_pages_off()) return Recache::kUnsupported;
  const auto* bytes = static_cast<const uint8_t*>(map);
  const size_t windows = size / kHugePageBytes;
  size_t huge = 0;
  const uint8_t* small = nullptr;
  for (size_t i = 0; i < kSamples; ++i) {
    const uint8_t* w = bytes + i * (windows - 1) / (kSamples - 1) * kHugePageBytes;
    if (touch_maps_huge(w, map, size))
      ++huge;
    else
      small = w;
  }
  // A cached file can also lose some of its 2 MiB folios over time (seen on the development VM,
  // where other programs read the same files: 100% to 52-85% within an hour or two); a quarter of
  // the file in small pages costs ~6%.
  if (4 * huge >= 3 * kSamples) return Recache::kKept;
  // Does this filesystem give 2 MiB pages to a window read afresh?  Unmap the window, drop its
  // cached pages and read it again.  Dirty pages are not dropped: write them first (a file just
  // written).
  fdatasync(fd);
  const auto off = static_cast<off_t>(small - bytes);
  if (madvise(const_cast<uint8_t*>(small), kHugePageBytes, MADV_DONTNEED) != 0 ||
      posix_fadvise(fd, off, static_cast<off_t>(kHugePageBytes), POSIX_FADV_DONTNEED) != 0 ||
      !touch_maps_huge(small, map, size))
    return Recache::kUnsupported;
  // Our own mapping holds pages in the cache too: unmap them all before dropping the file's.
  if (madvise(const_cast<void*>(map), size, MADV_DONTNEED) != 0) return Recache::kUnsupported;
  if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) return Recache::kUnsupported;
  return Recache::kReread;
#else
  (void)fd;
  (void)map;
  (void)size;
  return Recache::kUnsupported;
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
