// Detector against a naive re-implementation of the reference's scoring
// (_score_ngrams_in_passage + _score_sequence + windows), and hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "plumb/watermark.h"

namespace plumb {
namespace {

Watermark make_wm(WatermarkScheme s, int32_t vocab, double gamma = 0.25, int64_t key = kDefaultWatermarkKey) {
  WatermarkConfig c;
  c.scheme = s;
  c.gamma = gamma;
  c.key = key;
  auto wm = Watermark::create(c, vocab);
  EXPECT_TRUE(wm.ok()) << wm.status().to_string();
  return *wm;
}

Detector make_detector(WatermarkScheme s, int32_t vocab, DetectOptions opts = {}, double gamma = 0.25) {
  WatermarkConfig c;
  c.scheme = s;
  c.gamma = gamma;
  auto d = Detector::create(c, vocab, opts);
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  return std::move(*d);
}

// Membership through the materialised green list: independent of the fast path.
bool naive_green(const Watermark& wm, const std::vector<int32_t>& gram) {
  if (!watermark_scheme_is_reference(wm.config().scheme)) return wm.is_green(gram);
  std::vector<int32_t> ctx(gram.begin(), wm.self_salted() ? gram.end() : gram.end() - 1);
  const auto list = wm.green_list(ctx);
  return std::find(list.begin(), list.end(), gram.back()) != list.end();
}

// The reference's scoring (ignore_repeated_ngrams=True: each distinct n-gram once, and
// False: every n-gram), and plumb's default rule (each distinct (seed, token) pair once; for
// hash schemes, whose digest covers the whole n-gram, the n-gram rule).
struct Naive {
  int64_t t = 0, g = 0, t_all = 0, g_all = 0, t_seed = 0, g_seed = 0;
  std::vector<uint8_t> counted;       // green bits of the distinct n-grams, in order
  std::vector<uint8_t> counted_seed;  // green bits of the distinct (seed, token) pairs, in order
};

Naive naive_score(const Watermark& wm, const std::vector<int32_t>& ids) {
  Naive n;
  const int ng = wm.ngram_size();
  const bool reference = watermark_scheme_is_reference(wm.config().scheme);
  std::map<std::vector<int32_t>, bool> seen;
  std::set<std::pair<uint32_t, int32_t>> seen_pairs;
  for (size_t j = 0; j + ng <= ids.size(); ++j) {
    std::vector<int32_t> gram(ids.begin() + j, ids.begin() + j + ng);
    const bool green = naive_green(wm, gram);
    ++n.t_all;
    n.g_all += green;
    const bool new_gram = seen.emplace(gram, green).second;
    if (new_gram) {
      ++n.t;
      n.g += green;
      n.counted.push_back(green);
    }
    std::vector<int32_t> ctx(gram.begin(), wm.self_salted() ? gram.end() : gram.end() - 1);
    const bool new_pair = reference ? seen_pairs.emplace(wm.seed(ctx), gram.back()).second : new_gram;
    if (new_pair) {
      ++n.t_seed;
      n.g_seed += green;
      n.counted_seed.push_back(green);
    }
  }
  return n;
}

double naive_winmax(const std::vector<uint8_t>& bits) {
  double best = -INFINITY;
  for (size_t size = 1; size < bits.size(); ++size)
    for (size_t s = 0; s + size <= bits.size(); ++s) {
      int64_t g = 0;
      for (size_t i = s; i < s + size; ++i) g += bits[i];
      best = std::max(best, (g - 0.25 * size) / std::sqrt(size * 0.25 * 0.75));
    }
  return best;
}

double naive_z(int64_t g, int64_t t) { return (g - 0.25 * t) / std::sqrt(t * 0.25 * 0.75); }

std::vector<int32_t> random_ids(std::mt19937& rng, size_t n, int32_t vocab, int32_t alphabet) {
  std::uniform_int_distribution<int32_t> d(0, std::min(vocab, alphabet) - 1);
  std::vector<int32_t> out(n);
  for (auto& x : out) x = d(rng);
  return out;
}

constexpr WatermarkScheme kAllSchemes[] = {WatermarkScheme::kLeftHash, WatermarkScheme::kSelfHash,
                                           WatermarkScheme::kMinHash,  WatermarkScheme::kSkipGram,
                                           WatermarkScheme::kHash,     WatermarkScheme::kHash4};

// `--dedupe ngram` and the reference fields (whatever the rule) reproduce the reference's
// numbers; the default counts distinct (seed, token) pairs; `--dedupe none` every n-gram.
TEST(Detector, MatchesNaiveScoringForEveryScheme) {
  std::mt19937 rng(11);
  for (auto scheme : kAllSchemes) {
    SCOPED_TRACE(std::string(watermark_scheme_name(scheme)));
    const int32_t vocab = 300;
    Watermark wm = make_wm(scheme, vocab);
    DetectOptions opts;
    opts.winmax = true;
    Detector det = make_detector(scheme, vocab, opts);
    DetectOptions ngram = opts;
    ngram.dedupe_by_seed = false;
    Detector det_ngram = make_detector(scheme, vocab, ngram);
    DetectOptions all = opts;
    all.ignore_repeated_ngrams = false;
    Detector det_all = make_detector(scheme, vocab, all);
    for (int rep = 0; rep < 6; ++rep) {
      // A small alphabet forces repeated n-grams (and shared seeds).
      const auto ids = random_ids(rng, 60 + 20 * rep, vocab, rep % 2 ? 6 : vocab);
      const Naive n = naive_score(wm, ids);
      const DetectResult r = det.detect(ids);
      const DetectResult rn = det_ngram.detect(ids);
      const DetectResult ra = det_all.detect(ids);
      ASSERT_TRUE(r.scored) << r.message;
      // The reference's rule, as an option and as the reference fields of every rule.
      EXPECT_EQ(rn.num_scored, n.t);
      EXPECT_EQ(rn.num_green, n.g);
      EXPECT_NEAR(rn.z, naive_z(n.g, n.t), 1e-12);
      EXPECT_NEAR(rn.p_value, 0.5 * std::erfc(rn.z / std::sqrt(2.0)), 1e-15);
      for (const DetectResult* x : {&r, &rn, &ra}) {
        EXPECT_EQ(x->reference.num_scored, n.t);
        EXPECT_EQ(x->reference.num_green, n.g);
        EXPECT_NEAR(x->reference.z, naive_z(n.g, n.t), 1e-12);
        EXPECT_NEAR(x->reference.p_value, 0.5 * std::erfc(naive_z(n.g, n.t) / std::sqrt(2.0)), 1e-15);
      }
      // The default rule.
      EXPECT_EQ(r.num_scored, n.t_seed);
      EXPECT_EQ(r.num_green, n.g_seed);
      EXPECT_NEAR(r.z, naive_z(n.g_seed, n.t_seed), 1e-12);
      // Every n-gram.
      EXPECT_EQ(ra.num_scored, n.t_all);
      EXPECT_EQ(ra.num_scored, static_cast<int64_t>(ids.size()) - wm.ngram_size() + 1);
      EXPECT_EQ(ra.num_green, n.g_all);
      // Mask: unscored prefix, then one mark per n-gram whose sum is the all-count; the same
      // under every rule.
      int64_t greens = 0;
      for (size_t i = 0; i < r.mask.size(); ++i) {
        if (i + 1 < static_cast<size_t>(wm.ngram_size())) {
          EXPECT_EQ(r.mask[i], -1);
        } else {
          greens += r.mask[i];
        }
      }
      EXPECT_EQ(greens, n.g_all);
      EXPECT_EQ(rn.mask, r.mask);
      EXPECT_EQ(ra.mask, r.mask);
      // WinMax over the counted bits of each rule, by brute force over sizes 1..L-1.
      ASSERT_TRUE(r.winmax_z.has_value());
      ASSERT_TRUE(rn.winmax_z.has_value());
      EXPECT_NEAR(*r.winmax_z, naive_winmax(n.counted_seed), 1e-12);
      EXPECT_NEAR(*rn.winmax_z, naive_winmax(n.counted), 1e-12);
      // Detection is deterministic and cache-independent.
      const DetectResult again = det.detect(ids);
      EXPECT_EQ(again.num_green, r.num_green);
      EXPECT_EQ(again.mask, r.mask);
    }
  }
}

// For lefthash (odd key, |key| * V below 2^63: key * previous id is then distinct modulo 2^32
// for distinct ids) and for the hash schemes, distinct n-grams have distinct (seed, token)
// pairs, so the default rule gives exactly the reference's counts.
TEST(Detector, SeedRuleEqualsNgramRuleForLefthashAndHashSchemes) {
  std::mt19937 rng(23);
  for (auto scheme : {WatermarkScheme::kLeftHash, WatermarkScheme::kHash, WatermarkScheme::kHash4}) {
    for (int64_t key : {kDefaultWatermarkKey, int64_t{8731902214}, int64_t{-999999937}, int64_t{(1LL << 45) + 1}}) {
      SCOPED_TRACE(std::string(watermark_scheme_name(scheme)) + " key " + std::to_string(key));
      const int32_t vocab = 128256;
      WatermarkConfig c;
      c.scheme = scheme;
      c.key = key;
      DetectOptions ngram;
      ngram.dedupe_by_seed = false;
      auto det = Detector::create(c, vocab);
      auto det_ngram = Detector::create(c, vocab, ngram);
      ASSERT_TRUE(det.ok() && det_ngram.ok());
      for (int rep = 0; rep < 3; ++rep) {
        // Zipf-like ids: frequent tokens recur after many different predecessors.
        std::vector<int32_t> ids(400);
        for (auto& x : ids) {
          const uint32_t u = rng();
          x = static_cast<int32_t>(u % (u & 1 ? 12u : 128256u));
        }
        const auto r = det->detect(ids);
        const auto rn = det_ngram->detect(ids);
        EXPECT_EQ(r.num_scored, rn.num_scored);
        EXPECT_EQ(r.num_green, rn.num_green);
        EXPECT_EQ(r.repeated, rn.repeated);
        EXPECT_EQ(r.z, r.reference.z);
        if (scheme != WatermarkScheme::kHash4) {  // repeated bigrams were found and folded
          EXPECT_LT(r.num_scored, static_cast<int64_t>(ids.size()) - 1);
        }
      }
    }
  }
}

TEST(Detector, AllGreenTextByConstruction) {
  // Each token drawn from its predecessor's green list, bigrams all distinct: G = T.
  const int32_t vocab = 1000;
  Watermark wm = make_wm(WatermarkScheme::kLeftHash, vocab);
  std::vector<int32_t> ids = {7};
  std::set<std::pair<int32_t, int32_t>> used;
  while (ids.size() < 101) {
    const auto list = wm.green_list(std::vector<int32_t>{ids.back()});
    for (int32_t cand : list)
      if (used.insert({ids.back(), cand}).second) {
        ids.push_back(cand);
        break;
      }
  }
  Detector det = make_detector(WatermarkScheme::kLeftHash, vocab);
  const auto r = det.detect(ids);
  ASSERT_TRUE(r.scored);
  EXPECT_EQ(r.num_scored, 100);
  EXPECT_EQ(r.num_green, 100);
  EXPECT_NEAR(r.z, std::sqrt(100 * 0.75 / 0.25), 1e-12);  // (T - T/4) / sqrt(3T/16) = 17.32
  EXPECT_TRUE(r.detected);
  EXPECT_LT(r.p_value, 1e-60);
}

TEST(Detector, RepeatedNgramsCountedOnceByDefault) {
  Detector det = make_detector(WatermarkScheme::kLeftHash, 1000);
  const std::vector<int32_t> ids = {3, 9, 3, 9, 3, 9};
  const auto r = det.detect(ids);
  EXPECT_EQ(r.num_scored, 2);  // (3,9) and (9,3)
  EXPECT_EQ(r.repeated, (std::vector<uint8_t>{0, 0, 0, 1, 1, 1}));
  DetectOptions all;
  all.ignore_repeated_ngrams = false;
  Detector det_all = make_detector(WatermarkScheme::kLeftHash, 1000, all);
  EXPECT_EQ(det_all.detect(ids).num_scored, 5);
}

TEST(Detector, DropsLeadingBosOnly) {
  DetectOptions opts;
  opts.bos_id = 1;
  Detector det = make_detector(WatermarkScheme::kLeftHash, 1000, opts);
  EXPECT_EQ(det.detect(std::vector<int32_t>{1, 5, 6, 7}).num_tokens, 3);
  EXPECT_EQ(det.detect(std::vector<int32_t>{5, 1, 6, 7}).num_tokens, 4);
}

TEST(Detector, NotEnoughTokensFollowsMinPrefixLen) {
  // lefthash needs 2 ids, selfhash 5 (the reference refuses len - context_width < 1).
  Detector left = make_detector(WatermarkScheme::kLeftHash, 1000);
  EXPECT_FALSE(left.detect(std::vector<int32_t>{}).scored);
  EXPECT_FALSE(left.detect(std::vector<int32_t>{4}).scored);
  EXPECT_TRUE(left.detect(std::vector<int32_t>{4, 5}).scored);
  Detector self = make_detector(WatermarkScheme::kSelfHash, 1000);
  const auto r = self.detect(std::vector<int32_t>{1, 2, 3, 4});
  EXPECT_FALSE(r.scored);
  EXPECT_NE(r.message.find("not enough tokens"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("at least 5"), std::string::npos) << r.message;
  const auto ok = self.detect(std::vector<int32_t>{1, 2, 3, 4, 5});
  ASSERT_TRUE(ok.scored);
  EXPECT_EQ(ok.num_scored, 2);  // N - 3
}

TEST(Detector, IdsOutsideVocabularyAreRed) {
  const int32_t vocab = 100;
  Detector det = make_detector(WatermarkScheme::kSelfHash, vocab);
  const auto r = det.detect(std::vector<int32_t>{1, 2, 3, 150, 4, 200, 5, -3});
  ASSERT_TRUE(r.scored);
  EXPECT_EQ(r.mask[5], 0);
  EXPECT_EQ(r.mask[7], 0);
}

TEST(Detector, WinMaxAbsentForOneCountedToken) {
  DetectOptions opts;
  opts.winmax = true;
  Detector det = make_detector(WatermarkScheme::kLeftHash, 1000, opts);
  EXPECT_FALSE(det.detect(std::vector<int32_t>{4, 5}).winmax_z.has_value());
  EXPECT_TRUE(det.detect(std::vector<int32_t>{4, 5, 6}).winmax_z.has_value());
}

TEST(Detector, CopyHasIndependentCaches) {
  Detector a = make_detector(WatermarkScheme::kLeftHash, 1000);
  const std::vector<int32_t> ids = {5, 6, 7, 8, 5, 6, 9};
  const auto ra = a.detect(ids);
  Detector b = a;
  EXPECT_EQ(b.detect(ids).mask, ra.mask);
}

TEST(Stats, BinomialTailExactSmallCases) {
  EXPECT_NEAR(binomial_upper_tail(3, 5, 0.25), 0.103515625, 1e-15);
  EXPECT_NEAR(binomial_upper_tail(1, 5, 0.25), 1 - std::pow(0.75, 5), 1e-15);
  EXPECT_EQ(binomial_upper_tail(0, 5, 0.25), 1.0);
  EXPECT_EQ(binomial_upper_tail(6, 5, 0.25), 0.0);
  EXPECT_NEAR(binomial_upper_tail(5, 5, 0.25), std::pow(0.25, 5), 1e-18);
  // Against a direct sum for a long text, both sides of the mean.
  for (int64_t s : {30, 50, 70, 120}) {
    double direct = 0;
    for (int64_t k = s; k <= 200; ++k)
      direct += std::exp(std::lgamma(201.0) - std::lgamma(k + 1.0) - std::lgamma(201.0 - k) + k * std::log(0.25) +
                         (200 - k) * std::log(0.75));
    EXPECT_NEAR(binomial_upper_tail(s, 200, 0.25), direct, 1e-12 + direct * 1e-9) << s;
  }
}

TEST(Stats, NormalTailKnownValues) {
  EXPECT_NEAR(normal_upper_tail(0), 0.5, 1e-15);
  EXPECT_NEAR(normal_upper_tail(4.0), 3.167124183311992e-05, 1e-18);
  EXPECT_NEAR(normal_upper_tail(-1.0), 0.8413447460685429, 1e-15);
}

TEST(Config, RejectsBadParameters) {
  WatermarkConfig c;
  c.gamma = 0;
  EXPECT_FALSE(Watermark::create(c, 1000).ok());
  c.gamma = 1.0;
  EXPECT_FALSE(Watermark::create(c, 1000).ok());
  c.gamma = 0.0005;  // int(1000 * 0.0005) = 0
  EXPECT_FALSE(Watermark::create(c, 1000).ok());
  c.gamma = 0.25;
  EXPECT_FALSE(Watermark::create(c, 1).ok());
  EXPECT_FALSE(Watermark::create(c, 2).ok());  // int(2 * 0.25) = 0
  c.gamma = 0.5;
  EXPECT_TRUE(Watermark::create(c, 2).ok());
  c.gamma = 0.25;
  c.vocab_size = 500;  // explicit size wins over the factory's
  EXPECT_EQ(Watermark::create(c, 32000)->vocab_size(), 500);
  EXPECT_EQ(Watermark::create(c, 32000)->green_count(), 125);
}

TEST(Config, SchemeNamesAndAliases) {
  EXPECT_EQ(*parse_watermark_scheme("simple_1"), WatermarkScheme::kLeftHash);
  EXPECT_EQ(*parse_watermark_scheme("algorithm-3"), WatermarkScheme::kSelfHash);
  EXPECT_EQ(*parse_watermark_scheme("hash1"), WatermarkScheme::kHash);
  EXPECT_EQ(*parse_watermark_scheme("hash4"), WatermarkScheme::kHash4);
  const auto bad = parse_watermark_scheme("sha");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("lefthash|selfhash"), std::string::npos);
  for (auto s : {WatermarkScheme::kLeftHash, WatermarkScheme::kSelfHash, WatermarkScheme::kMinHash,
                 WatermarkScheme::kSkipGram, WatermarkScheme::kHash, WatermarkScheme::kHash4})
    EXPECT_EQ(*parse_watermark_scheme(watermark_scheme_name(s)), s);
}

TEST(HashScheme, GreenFractionIsGammaAndKeyDependent) {
  Watermark a = make_wm(WatermarkScheme::kHash, 50000, 0.25, 1);
  Watermark b = make_wm(WatermarkScheme::kHash, 50000, 0.25, 2);
  const auto la = a.green_list(std::vector<int32_t>{42});
  const auto lb = b.green_list(std::vector<int32_t>{42});
  EXPECT_NEAR(la.size() / 50000.0, 0.25, 0.01);  // binomial sd 0.002
  EXPECT_NE(la, lb);
  for (int32_t t : la) EXPECT_TRUE(a.is_green(std::vector<int32_t>{42, t}));
}

TEST(Normalize, NfcAndWhitespace) {
  // NFC first; U+00A0 and U+200B become spaces and collapse; \t and \n are removed after the
  // collapse, so the spaces around them stay separate (the reference's order).
  auto r = watermark_normalize("  cafe\xCC\x81 \t\n  au\xC2\xA0\xE2\x80\x8Blait  ");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, " caf\xC3\xA9  au lait ");
  EXPECT_EQ(*watermark_normalize("a\r\nb\x7f c"), "ab c");
  EXPECT_FALSE(watermark_normalize("bad \xff utf8").ok());
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(Detector, SeedDedupeCountsDistinctSeedTokenPairs) {
  std::mt19937 rng(5);
  for (auto scheme : {WatermarkScheme::kSelfHash, WatermarkScheme::kMinHash, WatermarkScheme::kLeftHash}) {
    const int32_t vocab = 500;
    Watermark wm = make_wm(scheme, vocab);
    Detector det = make_detector(scheme, vocab);  // the default rule
    DetectOptions ngram;
    ngram.dedupe_by_seed = false;
    Detector plain = make_detector(scheme, vocab, ngram);
    for (int rep = 0; rep < 4; ++rep) {
      const auto ids = random_ids(rng, 300, vocab, 8);  // few distinct ids: many shared seeds
      std::map<std::pair<uint32_t, int32_t>, bool> pairs;
      const int ng = wm.ngram_size();
      for (size_t j = 0; j + ng <= ids.size(); ++j) {
        std::vector<int32_t> gram(ids.begin() + j, ids.begin() + j + ng);
        std::vector<int32_t> ctx(gram.begin(), wm.self_salted() ? gram.end() : gram.end() - 1);
        pairs.emplace(std::make_pair(wm.seed(ctx), gram.back()), naive_green(wm, gram));
      }
      int64_t green = 0;
      for (const auto& [k, g] : pairs) green += g;
      const auto r = det.detect(ids);
      EXPECT_EQ(r.num_scored, static_cast<int64_t>(pairs.size()));
      EXPECT_EQ(r.num_green, green);
      const auto rn = plain.detect(ids);
      EXPECT_LE(r.num_scored, rn.num_scored);
      // Self-salted seeds repeat across distinct n-grams: the rules differ on such text.
      if (scheme == WatermarkScheme::kSelfHash) {
        EXPECT_LT(r.num_scored, rn.num_scored);
      }
      EXPECT_EQ(r.reference.num_scored, rn.num_scored);
      EXPECT_EQ(r.reference.num_green, rn.num_green);
    }
  }
}

// Selective detection: excluded tokens are not counted, and repeats are judged among the
// counted tokens only (a pair or n-gram whose first occurrence was excluded counts at its
// first counted one), under each repeat rule; the reference figures still count every token.
TEST(Detector, ExcludedTokensAreLeftOutAndRepeatsJudgedAmongTheCounted) {
  std::mt19937 rng(31);
  for (auto scheme : kAllSchemes) {
    SCOPED_TRACE(std::string(watermark_scheme_name(scheme)));
    const int32_t vocab = 300;
    Watermark wm = make_wm(scheme, vocab);
    const bool reference = watermark_scheme_is_reference(scheme);
    for (int rule = 0; rule < 3; ++rule) {  // seed, ngram, none
      DetectOptions opts;
      opts.dedupe_by_seed = rule == 0;
      opts.ignore_repeated_ngrams = rule != 2;
      opts.winmax = true;
      Detector det = make_detector(scheme, vocab, opts);
      for (int rep = 0; rep < 5; ++rep) {
        const auto ids = random_ids(rng, 80 + 10 * rep, vocab, 7);  // many repeats
        std::vector<uint8_t> exclude(ids.size());
        for (auto& e : exclude) e = rng() % 3 == 0;
        const int ng = wm.ngram_size();
        std::set<std::vector<int64_t>> seen;
        int64_t t = 0, g = 0, excluded = 0;
        std::vector<uint8_t> bits;
        for (size_t j = 0; j + ng <= ids.size(); ++j) {
          const size_t target = j + ng - 1;
          if (exclude[target]) {
            ++excluded;
            continue;
          }
          std::vector<int32_t> gram(ids.begin() + j, ids.begin() + j + ng);
          std::vector<int32_t> ctx(gram.begin(), wm.self_salted() ? gram.end() : gram.end() - 1);
          std::vector<int64_t> key(gram.begin(), gram.end());
          if (rule == 0 && reference) key = {wm.seed(ctx), gram.back()};
          if (rule != 2 && !seen.insert(key).second) continue;
          const bool green = naive_green(wm, gram);
          ++t;
          g += green;
          bits.push_back(green);
        }
        const DetectResult r = det.detect(ids, exclude);
        ASSERT_TRUE(r.scored) << r.message;
        EXPECT_EQ(r.num_scored, t);
        EXPECT_EQ(r.num_green, g);
        EXPECT_EQ(r.num_excluded, excluded);
        EXPECT_NEAR(r.z, naive_z(g, t), 1e-12);
        ASSERT_TRUE(r.winmax_z.has_value());
        EXPECT_NEAR(*r.winmax_z, naive_winmax(bits), 1e-12);
        for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(r.excluded[i], i + 1 >= static_cast<size_t>(ng) && exclude[i]);
        // The reference figures and the mask ignore the exclusion.
        const DetectResult plain = det.detect(ids);
        EXPECT_EQ(r.reference.num_scored, plain.reference.num_scored);
        EXPECT_EQ(r.reference.num_green, plain.reference.num_green);
        EXPECT_EQ(r.mask, plain.mask);
        // An all-zero mask changes nothing.
        const DetectResult none = det.detect(ids, std::vector<uint8_t>(ids.size(), 0));
        EXPECT_EQ(none.num_scored, plain.num_scored);
        EXPECT_EQ(none.num_green, plain.num_green);
      }
    }
  }
}

TEST(Detector, EverythingExcludedIsNotAVerdict) {
  Detector det = make_detector(WatermarkScheme::kLeftHash, 100);
  const std::vector<int32_t> ids = {1, 5, 9, 13, 17, 21};
  const DetectResult r = det.detect(ids, std::vector<uint8_t>(ids.size(), 1));
  EXPECT_FALSE(r.scored);
  EXPECT_FALSE(r.detected);
  EXPECT_EQ(r.num_excluded, 5);
  EXPECT_EQ(r.message, "not enough tokens: all 5 scorable tokens were excluded");
  const DetectResult bad = det.detect(ids, std::vector<uint8_t>(3, 0));
  EXPECT_FALSE(bad.scored);
  EXPECT_EQ(bad.message, "exclusion mask has 3 entries for 6 token ids; expected one per id");
}

}  // namespace
}  // namespace plumb
