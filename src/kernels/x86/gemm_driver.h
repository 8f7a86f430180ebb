// Drives a register micro-tile over a whole GEMM block: Tile::run<R, C>(n, w, ws, x, xs, y, ldy)
// computes R weight rows x C tokens, and gemm_tiles walks nr x nc in such tiles, handing the
// edges to smaller instantiations.  Each ISA's gemm_*.cpp includes this header, so the driver is
// compiled with that file's target flags; the unnamed namespace keeps those differently-compiled
// instantiations apart (no ODR merging across ISA translation units).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

template <typename Tile, int R, int kMaxCols>
inline void run_cols(int cc, int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y,
                     int64_t ldy) {
  static_assert(kMaxCols == 2 || kMaxCols == 4, "tiles are 2 or 4 tokens wide");
  if (cc == 1) return Tile::template run<R, 1>(n, w, ws, x, xs, y, ldy);
  if constexpr (kMaxCols == 2) {
    return Tile::template run<R, 2>(n, w, ws, x, xs, y, ldy);
  } else {
    if (cc == 2) return Tile::template run<R, 2>(n, w, ws, x, xs, y, ldy);
    if (cc == 3) return Tile::template run<R, 3>(n, w, ws, x, xs, y, ldy);
    return Tile::template run<R, 4>(n, w, ws, x, xs, y, ldy);
  }
}

// Matches GemmFn (dispatch.h): y[c * ldy + r] for r < nr rows of `ws` bytes and c < nc tokens of `xs` bytes.
template <typename Tile, int kMaxRows, int kMaxCols>
void gemm_tiles(int64_t n, const void* vw, size_t ws, int nr, const void* vx, size_t xs, int nc, float* y,
                int64_t ldy) {
  static_assert(kMaxRows == 4, "tiles are 4 rows tall");
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int r0 = 0; r0 < nr; r0 += kMaxRows) {
    const int rr = nr - r0 < kMaxRows ? nr - r0 : kMaxRows;
    for (int c0 = 0; c0 < nc; c0 += kMaxCols) {
      const int cc = nc - c0 < kMaxCols ? nc - c0 : kMaxCols;
      const uint8_t* wt = w + r0 * ws;
      const uint8_t* xt = x + c0 * xs;
      float* yt = y + c0 * ldy + r0;
      switch (rr) {
        case 1:
          run_cols<Tile, 1, kMaxCols>(cc, n, wt, ws, xt, xs, yt, ldy);
          break;
        case 2:
          run_cols<Tile, 2, kMaxCols>(cc, n, wt, ws, xt, xs, yt, ldy);
          break;
        case 3:
          run_cols<Tile, 3, kMaxCols>(cc, n, wt, ws, xt, xs, yt, ldy);
          break;
        default:
          run_cols<Tile, 4, kMaxCols>(cc, n, wt, ws, xt, xs, yt, ldy);
          break;
      }
    }
  }
}

inline void set_gemm(KernelTable& t, TensorType type, GemmFn fn) { t.weights[static_cast<uint32_t>(type)].gemm = fn; }

}  // namespace
}  // namespace plumb::kernels
