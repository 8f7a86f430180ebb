// Detector: scores token ids as the reference's WatermarkDetector does, with plumb's (seed,
// token) repeat rule by default and the reference's n-gram rule always computed beside it
// (_score_ngrams_in_passage, _score_sequence, _score_windows_impl_batched with
// window_size="max"), with caches instead of its lru_cache.
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <unordered_set>

#include "plumb/watermark.h"
#include "watermark/green_cache.h"

namespace plumb {

namespace {

// Default green-list cache: this many lists (64 MiB at V = 32k, 256 MiB at V = 128k), so
// that the lists of the previous tokens that make up most of a corpus stay built.
constexpr size_t kDefaultCachedLists = 16384;

// Positions of first occurrences of n-grams in one text: open addressing over positions,
// n-grams compared by their ids.
class NgramSet {
 public:
  void reset(const int32_t* ids, size_t ngram, size_t count) {
    ids_ = ids;
    ngram_ = ngram;
    size_t cap = 16;
    while (cap < 2 * count) cap *= 2;
    mask_ = cap - 1;
    table_.assign(cap, -1);
  }
  // The position of the first occurrence of the n-gram starting at `pos` (pos itself when new).
  int64_t first(int64_t pos) {
    const int32_t* g = ids_ + pos;
    const size_t bytes = ngram_ * sizeof(int32_t);
    for (size_t i = XXH3_64bits(g, bytes) & mask_;; i = (i + 1) & mask_) {
      if (table_[i] < 0) {
        table_[i] = pos;
        return pos;
      }
      if (std::memcmp(ids_ + table_[i], g, bytes) == 0) return table_[i];
    }
  }

 private:
  const int32_t* ids_ = nullptr;
  size_t ngram_ = 1;
  size_t mask_ = 0;
  std::vector<int64_t> table_;
};

// First positions of 64-bit keys ((seed, token) pairs) in one text.
class KeySet {
 public:
  void reset(size_t count) {
    size_t cap = 16;
    while (cap < 2 * count) cap *= 2;
    mask_ = cap - 1;
    keys_.assign(cap, 0);
    pos_.assign(cap, -1);
  }
  int64_t first(uint64_t key, int64_t pos) {
    for (size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_;; i = (i + 1) & mask_) {
      if (pos_[i] < 0) {
        keys_[i] = key;
        pos_[i] = pos;
        return pos;
      }
      if (keys_[i] == key) return pos_[i];
    }
  }

 private:
  size_t mask_ = 0;
  std::vector<uint64_t> keys_;
  std::vector<int64_t> pos_;
};

}  // namespace

struct Detector::Cache {
  watermark::ResultCache results;
  watermark::BitsetCache bitsets;
  NgramSet ngrams;
  KeySet seeds;
  std::vector<int32_t> list;
  Cache(int32_t vocab_size, size_t budget_bytes) : bitsets(vocab_size, budget_bytes) {}

  // Green membership of `token` in the list seeded by `seed` (reference schemes, token < V).
  // Plain schemes: the whole list as a bitset, built once per seed (it serves every later
  // occurrence of the previous token).  Self-salted schemes: the list depends on the token
  // too, so one token's test, remembered by (seed, token).
  bool green(const Watermark& wm, uint32_t seed, int32_t token, bool salted) {
    if (!salted) {
      const uint64_t* bits = bitsets.find(seed);
      if (bits == nullptr && bitsets.admit(seed)) {
        wm.green_list_seeded(seed, list);
        bits = bitsets.store(seed, list);
      }
      if (bits != nullptr) return watermark::BitsetCache::test(bits, token);
    }
    if (int known = results.lookup(seed, token); known >= 0) return known == 1;
    const bool g = wm.is_green_seeded(seed, token);
    results.insert(seed, token, g);
    return g;
  }
};

namespace {

size_t cache_budget(const DetectOptions& o, int32_t vocab_size) {
  if (o.cache_bytes > 0) return o.cache_bytes;
  return kDefaultCachedLists * watermark::BitsetCache::list_bytes(vocab_size);
}

}  // namespace

Detector::Detector(Watermark wm, const DetectOptions& options)
    : watermark_(std::move(wm)), options_(options), cache_(std::make_unique<Cache>(watermark_.vocab_size(), cache_budget(options_, watermark_.vocab_size()))) {}
Detector::Detector(const Detector& other) : Detector(other.watermark_, other.options_) {}
Detector& Detector::operator=(const Detector& other) {
  if (this != &other) *this = Detector(other);
  return *this;
}
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

Result<Detector> Detector::create(const WatermarkConfig& config, int32_t vocab_size, const DetectOptions& options) {
  PLUMB_ASSIGN_OR_RETURN(Watermark wm, Watermark::create(config, vocab_size));
  if (!std::isfinite(options.z_threshold))
    return Status::InvalidArgument("detection threshold: expected a finite z value");
  return Detector(std::move(wm), options);
}

DetectResult Detector::detect(std::span<const int32_t> ids) { return detect(ids, {}); }

DetectResult Detector::detect(std::span<const int32_t> ids, std::span<const uint8_t> exclude) {
  DetectResult r;
  if (!exclude.empty() && exclude.size() != ids.size()) {
    r.message = "exclusion mask has " + std::to_string(exclude.size()) + " entries for " + std::to_string(ids.size()) +
                " token ids; expected one per id";
    return r;
  }
  if (!ids.empty() && options_.bos_id >= 0 && ids.front() == options_.bos_id) {
    ids = ids.subspan(1);
    if (!exclude.empty()) exclude = exclude.subspan(1);
  }
  const auto n = static_cast<int64_t>(ids.size());
  const int h = watermark_.context_width();
  const int ng = watermark_.ngram_size();
  r.num_tokens = n;
  r.mask.assign(static_cast<size_t>(n), -1);
  r.repeated.assign(static_cast<size_t>(n), 0);
  r.excluded.assign(static_cast<size_t>(n), 0);
  // The reference refuses fewer than h + 1 ids (one token after a full prefix of h).
  if (n - h < 1) {
    r.message = "not enough tokens: " + std::to_string(n) + " after dropping BOS; scheme " +
                std::string(watermark_scheme_name(watermark_.config().scheme)) + " needs at least " +
                std::to_string(h + 1) + " to score one";
    return r;
  }

  const bool reference = watermark_scheme_is_reference(watermark_.config().scheme);
  const bool salted = watermark_.self_salted();
  const int64_t count = n - ng + 1;
  Cache& c = *cache_;
  // Hash schemes hash the whole n-gram, so their (seed, token) rule is the n-gram rule.
  const bool by_seed = reference && options_.dedupe_by_seed && options_.ignore_repeated_ngrams;
  // The n-gram set is always kept: it gives the reference's figures beside ours.
  c.ngrams.reset(ids.data(), static_cast<size_t>(ng), static_cast<size_t>(count));
  if (by_seed) c.seeds.reset(static_cast<size_t>(count));
  std::vector<uint8_t> counted_green;  // WinMax input: green bits of the counted n-grams, in order
  counted_green.reserve(static_cast<size_t>(count));

  const int32_t vocab = watermark_.vocab_size();
  int64_t counted = 0, green_counted = 0, ref_unique = 0, ref_green = 0;
  // With exclusions, repeats are judged among the counted tokens: a pair (or n-gram) whose
  // first occurrence was excluded counts at its first counted occurrence.
  std::unordered_set<int64_t> counted_keys;
  // canonical[j]: the first index of j's pair (or n-gram) — first_seed is that only for new
  // n-grams, since a repeated n-gram points at its own first occurrence.
  std::vector<int64_t> canonical(exclude.empty() ? 0 : static_cast<size_t>(count));
  for (int64_t j = 0; j < count; ++j) {
    const int64_t target = j + ng - 1;
    const std::span<const int32_t> gram = ids.subspan(static_cast<size_t>(j), static_cast<size_t>(ng));
    const int32_t token = gram.back();
    const uint32_t seed = reference ? watermark_.seed(salted ? gram : gram.first(gram.size() - 1)) : 0;
    const int64_t first_ngram = c.ngrams.first(j);
    // A repeated n-gram is a repeated (seed, token) too (its pair went into the seed set at
    // its first occurrence), so the seed set is consulted only for new n-grams.
    int64_t first_seed = first_ngram;
    if (by_seed && first_ngram == j) first_seed = c.seeds.first((uint64_t{seed} << 32) | static_cast<uint32_t>(token), j);
    bool green;
    if (first_seed != j) {  // (a repeat of) a pair scored before: the same coin flip
      green = r.mask[static_cast<size_t>(first_seed + ng - 1)] == 1;
    } else if (!reference || token < 0 || token >= vocab) {
      green = watermark_.is_green(gram);
    } else {
      green = c.green(watermark_, seed, token, salted);
    }
    r.mask[static_cast<size_t>(target)] = green ? 1 : 0;
    if (first_ngram == j) {
      ++ref_unique;
      ref_green += green;
    }
    bool repeat = first_seed != j;
    if (!exclude.empty()) {
      canonical[static_cast<size_t>(j)] = first_ngram == j ? first_seed : canonical[static_cast<size_t>(first_ngram)];
      if (exclude[static_cast<size_t>(target)]) {
        r.excluded[static_cast<size_t>(target)] = 1;
        ++r.num_excluded;
        continue;
      }
      repeat = !counted_keys.insert(canonical[static_cast<size_t>(j)]).second;
    }
    r.repeated[static_cast<size_t>(target)] = repeat ? 1 : 0;
    if (!options_.ignore_repeated_ngrams || !repeat) {
      ++counted;
      green_counted += green;
      counted_green.push_back(green);
    }
  }

  const double gamma = watermark_.config().gamma;
  if (counted == 0) {
    r.message = "not enough tokens: all " + std::to_string(r.num_excluded) + " scorable tokens were excluded";
    return r;
  }
  r.scored = true;
  r.num_scored = counted;
  r.num_green = green_counted;
  r.green_fraction = static_cast<double>(r.num_green) / static_cast<double>(r.num_scored);
  r.z = watermark_z(r.num_green, r.num_scored, gamma);
  r.p_value = normal_upper_tail(r.z);
  if (options_.binomial) r.binomial_p = binomial_upper_tail(r.num_green, r.num_scored, gamma);
  r.detected = r.z > options_.z_threshold;
  r.reference.num_scored = ref_unique;
  r.reference.num_green = ref_green;
  r.reference.z = watermark_z(ref_green, ref_unique, gamma);
  r.reference.p_value = normal_upper_tail(r.reference.z);

  if (options_.winmax && counted_green.size() >= 2) {
    // Every window of every size 1..L-1 (the reference's range(1, L)), stride 1.
    const size_t len = counted_green.size();
    std::vector<int64_t> prefix(len + 1, 0);
    for (size_t i = 0; i < len; ++i) prefix[i + 1] = prefix[i] + counted_green[i];
    double best = -INFINITY;
    int64_t best_size = 0;
    for (size_t size = 1; size < len; ++size) {
      int64_t most = 0;
      for (size_t s = 0; s + size <= len; ++s) most = std::max(most, prefix[s + size] - prefix[s]);
      const double z = watermark_z(most, static_cast<int64_t>(size), gamma);
      if (z > best) {
        best = z;
        best_size = static_cast<int64_t>(size);
      }
    }
    r.winmax_z = best;
    r.winmax_window = best_size;
  }
  return r;
}

}  // namespace plumb
