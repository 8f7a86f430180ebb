// plumb/page_cache.h — what loading a model file does about how the OS page cache holds it.
//
// Decoding streams every weight once per token, and reads them ~25% faster from 2 MiB pages
// than from 4 KiB ones (fewer TLB misses; docs/kernels.md).  plumb maps a file and asks for
// 2 MiB pages, which Linux gives where the page cache holds the file in 2 MiB folios: files
// read in through such a mapping, or written in aligned 2 MiB pieces, on filesystems with
// large folios (ext4 on Linux 6.16+, XFS, tmpfs with huge=).  A file written in small pieces (a
// download, a copy) is cached in 4 KiB pages until the cache lets it go, and a cached file can
// lose 2 MiB pages when another program reads it back through 4 KiB mappings.
#pragma once

namespace plumb {

enum class PageCache {
  // Use the cached pages as they are.
  kKeep,
  // Where parts of the file are cached in small pages (Linux 6.7+ tells which 2 MiB windows;
  // older kernels sample 16 and act on over a quarter of the file) and the filesystem gives a
  // window read afresh a 2 MiB page, drop those parts' cached pages so that loading reads them
  // back from disk in 2 MiB pages: once (the cache then keeps them so).  Files under 64 MiB are
  // kept.
  kAuto,
  // Always drop the file's cached pages first (one read of the file from disk).
  kDrop,
};

}  // namespace plumb
