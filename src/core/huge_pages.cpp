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
