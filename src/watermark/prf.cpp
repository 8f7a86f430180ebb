#include "watermark/prf.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "watermark/randperm.h"

namespace plumb::watermark {

std::span<const int32_t> hashint_table() {
  static const std::vector<int32_t> table = randperm(kHashintTableSeed, static_cast<int32_t>(kHashintTableSize));
  return table;
}

__int128 prf_key(WatermarkScheme scheme, int64_t key, std::span<const int32_t> context) {
  switch (scheme) {
    case WatermarkScheme::kLeftHash:
      assert(context.size() == 1);
      return static_cast<__int128>(key) * context[0];  // Python ints: no wrap-around
    case WatermarkScheme::kSelfHash: {
      assert(context.size() == 4);
      // (key * hashint(ids) * hashint(ids[-1])).min(): int64 tensors, signed min.
      const int64_t anchor = hashint(context.back());
      int64_t best = INT64_MAX;
      for (int32_t id : context) best = std::min(best, wrap_mul(wrap_mul(key, hashint(id)), anchor));
      return best;
    }
    case WatermarkScheme::kMinHash: {
      assert(context.size() == 4);
      int64_t best = INT64_MAX;
      for (int32_t id : context) best = std::min(best, hashint(wrap_mul(key, id)));
      return best;
    }
    case WatermarkScheme::kSkipGram:
      assert(context.size() == 5);
      return hashint(wrap_mul(key, context[0]));
    case WatermarkScheme::kHash:
    case WatermarkScheme::kHash4:
      break;
  }
  assert(false && "prf_key: not a reference scheme");
  return 0;
}

uint32_t seed_from_prf_key(__int128 prf_key) {
  constexpr __int128 kMod = (static_cast<__int128>(1) << 64) - 1;
  __int128 r = prf_key % kMod;
  if (r < 0) r += kMod;
  return static_cast<uint32_t>(static_cast<unsigned __int128>(r));
}

}  // namespace plumb::watermark
