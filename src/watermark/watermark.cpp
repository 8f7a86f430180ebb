// Watermark: scheme names, parameters, and green membership.
#include "plumb/watermark.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>

#include "watermark/prf.h"
#include "watermark/randperm.h"

namespace plumb {

using watermark::FastModTable;

struct Watermark::Tables {
  FastModTable fastmod;
  Tables(uint32_t n, uint32_t steps) : fastmod(n, steps) {}
};

namespace {

struct SchemeInfo {
  WatermarkScheme scheme;
  std::string_view name;
  std::string_view alias;
  int context_width;
  bool self_salted;
  bool reference;
};

constexpr std::array<SchemeInfo, 6> kSchemes = {{
    {WatermarkScheme::kLeftHash, "lefthash", "simple_1", 1, false, true},
    {WatermarkScheme::kSelfHash, "selfhash", "algorithm-3", 4, true, true},
    {WatermarkScheme::kMinHash, "minhash", "", 4, false, true},
    {WatermarkScheme::kSkipGram, "skipgram", "", 5, false, true},
    {WatermarkScheme::kHash, "hash", "hash1", 1, false, false},
    {WatermarkScheme::kHash4, "hash4", "", 4, true, false},
}};

const SchemeInfo& info(WatermarkScheme s) {
  for (const auto& i : kSchemes)
    if (i.scheme == s) return i;
  return kSchemes[0];
}

// Green iff the keyed digest of the ids (context then token) is below gamma * 2^64.
uint64_t hash_ids(std::span<const int32_t> ids, int64_t key) {
  return XXH3_64bits_withSeed(ids.data(), ids.size_bytes(), static_cast<uint64_t>(key));
}

}  // namespace

std::string_view watermark_scheme_name(WatermarkScheme scheme) { return info(scheme).name; }

bool watermark_scheme_is_reference(WatermarkScheme scheme) { return info(scheme).reference; }

std::string watermark_scheme_list() {
  std::string out;
  for (const auto& i : kSchemes) {
    if (!out.empty()) out += '|';
    out += i.name;
  }
  return out;
}

Result<WatermarkScheme> parse_watermark_scheme(std::string_view name) {
  for (const auto& i : kSchemes)
    if (name == i.name || (!i.alias.empty() && name == i.alias)) return i.scheme;
  return Status::InvalidArgument("watermark scheme '" + std::string(name) + "': expected one of " +
                                 watermark_scheme_list() + " (or the aliases simple_1, algorithm-3, hash1)");
}

Result<Watermark> Watermark::create(const WatermarkConfig& config, int32_t vocab_size) {
  Watermark wm;
  wm.config_ = config;
  wm.vocab_size_ = config.vocab_size > 0 ? config.vocab_size : vocab_size;
  if (wm.vocab_size_ < 2)
    return Status::InvalidArgument("watermark vocabulary size: expected at least 2, found " +
                                   std::to_string(wm.vocab_size_));
  if (!(config.gamma > 0.0 && config.gamma < 1.0))
    return Status::InvalidArgument("watermark gamma: expected a fraction strictly between 0 and 1, found " +
                                   std::to_string(config.gamma));
  if (!std::isfinite(config.delta))
    return Status::InvalidArgument("watermark delta: expected a finite number");
  if (config.selfhash_candidates < 1)
    return Status::InvalidArgument("watermark selfhash_candidates: expected at least 1, found " +
                                   std::to_string(config.selfhash_candidates));
  // int(V * gamma) in Python: the double product, truncated.
  wm.green_count_ = static_cast<int32_t>(static_cast<double>(wm.vocab_size_) * config.gamma);
  if (wm.green_count_ < 1)
    return Status::InvalidArgument("watermark gamma " + std::to_string(config.gamma) + " with vocabulary size " +
                                   std::to_string(wm.vocab_size_) + " gives an empty green list");
  const SchemeInfo& si = info(config.scheme);
  wm.context_width_ = si.context_width;
  wm.self_salted_ = si.self_salted;
  if (si.reference) {
    const auto n = static_cast<uint32_t>(wm.vocab_size_);
    wm.tables_ = std::make_shared<const Tables>(n, watermark::prefix_steps(n, static_cast<uint32_t>(wm.green_count_)));
  } else {
    wm.hash_threshold_ = static_cast<uint64_t>(std::ldexp(config.gamma, 64));
  }
  return wm;
}

uint32_t Watermark::seed(std::span<const int32_t> context) const {
  assert(static_cast<int>(context.size()) == context_width_);
  if (!tables_) return static_cast<uint32_t>(hash_ids(context, config_.key));
  return watermark::seed_from_prf_key(watermark::prf_key(config_.scheme, config_.key, context));
}

bool Watermark::is_green_seeded(uint32_t seed, int32_t token) const {
  assert(tables_ && "is_green_seeded: reference schemes only");
  if (token < 0 || token >= vocab_size_) return false;
  return watermark::in_perm_prefix(seed, static_cast<uint32_t>(vocab_size_), static_cast<uint32_t>(green_count_),
                                   static_cast<uint32_t>(token), tables_->fastmod);
}

bool Watermark::is_green(std::span<const int32_t> ngram) const {
  assert(static_cast<int>(ngram.size()) == ngram_size());
  const int32_t token = ngram.back();
  if (token < 0 || token >= vocab_size_) return false;
  if (!tables_) return hash_ids(ngram, config_.key) < hash_threshold_;
  const auto context = self_salted_ ? ngram : ngram.first(ngram.size() - 1);
  return is_green_seeded(seed(context), token);
}

void Watermark::green_list_seeded(uint32_t seed, std::vector<int32_t>& out) const {
  assert(tables_ && "green_list_seeded: reference schemes only");
  thread_local watermark::PermScratch scratch;
  watermark::perm_prefix(seed, static_cast<uint32_t>(vocab_size_), static_cast<uint32_t>(green_count_),
                         tables_->fastmod, scratch, out);
}

std::vector<int32_t> Watermark::green_list(std::span<const int32_t> context) const {
  assert(static_cast<int>(context.size()) == context_width_);
  std::vector<int32_t> out;
  if (tables_) {
    green_list_seeded(seed(context), out);
    return out;
  }
  // Hash schemes: every token whose (context, token) digest falls below the threshold; for
  // hash4 the context's last id is the candidate slot and is replaced by each token.
  std::array<int32_t, 8> ngram{};
  const size_t prefix = self_salted_ ? context.size() - 1 : context.size();
  std::copy(context.begin(), context.begin() + static_cast<std::ptrdiff_t>(prefix), ngram.begin());
  const std::span<const int32_t> view(ngram.data(), prefix + 1);
  for (int32_t t = 0; t < vocab_size_; ++t) {
    ngram[prefix] = t;
    if (hash_ids(view, config_.key) < hash_threshold_) out.push_back(t);
  }
  return out;
}

}  // namespace plumb
