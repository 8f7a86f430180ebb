// plumb/watermark.h — the green-list watermark of Kirchenbauer et al. (ICML 2023 and
// "On the Reliability of Watermarks for Large Language Models", 2023): a sampling stage that
// marks generated text, and a detector that recognises it from the token ids alone.
//
// Compatibility: the schemes lefthash, selfhash, minhash and skipgram reproduce the authors'
// reference code (lm-watermarking, extended_watermark_processor.py) bit for bit when its
// generator runs on the CPU: same key, gamma, scheme and tokenizer give the same green lists,
// the same z-scores and the same verdicts.  `hash` and `hash4` are plumb's own fast schemes
// (one xxHash3 per token), not readable by the reference.  See docs/watermark.md.
//
// The default key is the reference's public constant; anyone can detect (and forge) a
// watermark made with it.  Pick your own key and keep it secret.
//
// Thread safety: WatermarkConfig and Watermark are values; a Watermark may be used from many
// threads at once.  A Detector and a watermark stage are single-threaded state; copy a
// Detector (or clone() a stage) per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/sampler.h"
#include "plumb/status.h"

namespace plumb {

enum class WatermarkScheme {
  kLeftHash,  // h = 1: seed = key * previous id                      (alias simple_1)
  kSelfHash,  // h = 4, self-salted: min_i key*hashint(c_i)*hashint(candidate)  (alias algorithm-3)
  kMinHash,   // h = 4: min_i hashint(key * c_i)
  kSkipGram,  // h = 5: hashint(key * oldest id)
  kHash,      // plumb's own, h = 1: green iff xxh3(prev, token; key) < gamma * 2^64  (alias hash1)
  kHash4,     // plumb's own, h = 4 self-salted: xxh3(c-3, c-2, c-1, token; key)
};

// The reference's public constant.  Detecting with it works for anyone: pick your own.
inline constexpr int64_t kDefaultWatermarkKey = 15485863;

struct WatermarkConfig {
  int64_t key = kDefaultWatermarkKey;
  double gamma = 0.25;  // green fraction, 0 < gamma < 1
  double delta = 2.0;   // logit bias added to green tokens when generating
  WatermarkScheme scheme = WatermarkScheme::kSelfHash;
  // The vocabulary the green lists partition: the tokenizer's size, not the logits width
  // (the reference uses len(tokenizer vocab)).  Ids >= vocab_size are never green.
  // 0: take the size passed to the factory functions.
  int32_t vocab_size = 0;
  // Self-salted schemes when generating: only this many best candidates (by logit) are
  // checked, each against its own green list (the reference checks 41).
  int32_t selfhash_candidates = 41;
};

std::string_view watermark_scheme_name(WatermarkScheme scheme);
// Accepts the names above and the reference's aliases (simple_1, algorithm-3, hash1).
Result<WatermarkScheme> parse_watermark_scheme(std::string_view name);
// "lefthash|selfhash|minhash|skipgram|hash|hash4", for help texts.
std::string watermark_scheme_list();
// Whether the reference implementation can read text marked with this scheme.
bool watermark_scheme_is_reference(WatermarkScheme scheme);

// Decides green membership for one key, gamma, scheme and vocabulary size.
class Watermark {
 public:
  // Errors: gamma outside (0, 1), an empty green list, a vocabulary size < 2.
  // vocab_size is used when config.vocab_size is 0.
  static Result<Watermark> create(const WatermarkConfig& config, int32_t vocab_size);

  const WatermarkConfig& config() const { return config_; }
  int32_t vocab_size() const { return vocab_size_; }
  int32_t green_count() const { return green_count_; }  // int(V * gamma), as Python truncates
  // h: how many ids seed one green list (for self-salted schemes the candidate is the last).
  int context_width() const { return context_width_; }
  bool self_salted() const { return self_salted_; }
  // Ids per scored n-gram, the scored token last: h + 1 for plain schemes, h for self-salted.
  int ngram_size() const { return context_width_ + (self_salted_ ? 0 : 1); }

  // The 32 bits that seed MT19937 for a context (reference schemes; for hash schemes a
  // digest of the context).  REQUIRES: context.size() == context_width().
  uint32_t seed(std::span<const int32_t> context) const;
  // Whether the last id of `ngram` is green.  REQUIRES: ngram.size() == ngram_size().
  // Cost for reference schemes: at most green_count() generator steps, no allocation.
  bool is_green(std::span<const int32_t> ngram) const;
  // Green membership for a seed from seed(): the same as is_green, minus the hashing.
  bool is_green_seeded(uint32_t seed, int32_t token) const;
  // The green list for a context, in the reference's permutation order (ascending for hash
  // schemes).  REQUIRES: context.size() == context_width().
  std::vector<int32_t> green_list(std::span<const int32_t> context) const;
  // Same, from a seed; reuses `out`.
  void green_list_seeded(uint32_t seed, std::vector<int32_t>& out) const;

 private:
  struct Tables;
  WatermarkConfig config_;
  int32_t vocab_size_ = 0;
  int32_t green_count_ = 0;
  int context_width_ = 1;
  bool self_salted_ = false;
  uint64_t hash_threshold_ = 0;  // hash schemes: green iff digest < threshold
  std::shared_ptr<const Tables> tables_;
};

// ---------------------------------------------------------------------------------------
// Generation

// The sampling stage: adds delta to the logits of green candidates.  Put it before
// temperature and truncation (SamplerChain position logit_stage_index()).  It learns the
// context from accept(), which the generation loop calls for every prompt and generated
// token; before h tokens are known it leaves the logits alone.  Green lists are cached by
// context.  reset() forgets the context; clone() copies it.
Result<std::unique_ptr<SamplerStage>> make_watermark_stage(const WatermarkConfig& config, int32_t vocab_size);

// ---------------------------------------------------------------------------------------
// Detection

struct DetectOptions {
  double z_threshold = 4.0;           // verdict: z > threshold
  bool ignore_repeated_ngrams = true;  // count each repeat once (rule below); false: every token
  // The repeat rule when ignore_repeated_ngrams (plumb's default: true): count each distinct
  // (green-list seed, token) pair once.  false: count each distinct n-gram once, exactly the
  // reference detector (`--dedupe ngram`).  Why the default differs: selfhash derives its seed
  // from a min over four terms, and about 1/4 of the time the min is the candidate's own term,
  // so the seed depends on the token alone; repeats of a frequent token in different contexts
  // then share one coin flip, which n-gram dedupe does not catch, and human prose scores
  // over-dispersed z (sd ~1.5, z > 4 in ~0.6% of 200-token windows).  Counting each (seed,
  // token) once restores sd ~1 (minhash and skipgram seeds repeat across n-grams too).  For
  // lefthash with an odd key and for hash/hash4 both rules give the same counts.
  // DetectResult::reference always carries the n-gram rule's figures.  See docs/watermark.md.
  bool dedupe_by_seed = true;
  bool binomial = false;              // also compute the exact binomial tail P(X >= G)
  bool winmax = false;                // best window z (uncalibrated: no p-value meaning); costs
                                      // O(L^2) in the counted tokens L, about 0.5 s at L = 30,000
  int32_t bos_id = -1;                // dropped when it is the first id; -1: none
  // Memory for cached green lists (bitsets of V bits, one per seed; plain schemes), taken as
  // lists are built.  0: 16,384 lists (64 MiB at V = 32k, 256 MiB at V = 128k).  A list is
  // built on a seed's second occurrence and serves every later one; a smaller cache rebuilds
  // evicted lists (each costs about 3 single-token tests at V = 128k).
  size_t cache_bytes = 0;
};

// The reference detector's own figures (lm-watermarking, ignore_repeated_ngrams=True: each
// distinct n-gram once), whatever repeat rule DetectOptions chose.
struct ReferenceScore {
  int64_t num_scored = 0;
  int64_t num_green = 0;
  double z = 0;
  double p_value = 1;  // normal upper tail, as the reference
};

struct DetectResult {
  // False when the text is too short to score: fewer than h + 1 ids after dropping BOS
  // (the reference's min_prefix_len rule).  Then only `message`, num_tokens and mask are set.
  bool scored = false;
  std::string message;
  int64_t num_tokens = 0;  // ids after dropping a leading BOS
  int64_t num_scored = 0;  // T: counted n-grams (distinct (seed, token) pairs by default)
  int64_t num_green = 0;   // G
  double green_fraction = 0;
  double z = 0;            // (G - gamma T) / sqrt(T gamma (1 - gamma))
  double p_value = 1;      // normal upper tail of z
  std::optional<double> binomial_p;  // with DetectOptions::binomial
  bool detected = false;   // z > z_threshold
  ReferenceScore reference;  // the reference's n-gram rule; equal to the above with --dedupe ngram
  // Per token (after dropping BOS): -1 not scored (the first h ids), 0 red, 1 green.
  std::vector<int8_t> mask;
  // Per token: 1 where it repeats an earlier one under the chosen rule (the same (seed, token),
  // or the same n-gram with dedupe_by_seed false); not counted when ignoring repeats.
  std::vector<uint8_t> repeated;
  // Per token: 1 where the caller's `exclude` (Detector::detect) left it out of the count.
  std::vector<uint8_t> excluded;
  int64_t num_excluded = 0;  // tokens excluded that would otherwise have been scored
  // WinMax (DetectOptions::winmax): the largest window z over window sizes 1..L-1 of the
  // counted tokens, as the reference's window_size="max".  Uncalibrated: z > 4 here does not
  // mean p < 3e-5.  Absent when fewer than 2 tokens were counted.
  std::optional<double> winmax_z;
  int64_t winmax_window = 0;
};

// Scores token ids.  Keeps caches of green lists between calls (texts sharing a key), so
// reuse one Detector per thread for a corpus.  Copying gives an independent Detector with
// empty caches.
class Detector {
 public:
  static Result<Detector> create(const WatermarkConfig& config, int32_t vocab_size, const DetectOptions& options = {});
  Detector(const Detector& other);
  Detector& operator=(const Detector& other);
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  ~Detector();

  DetectResult detect(std::span<const int32_t> ids);
  // As detect(ids), but tokens with exclude[i] != 0 are not counted, and repeats are judged
  // among the counted tokens only.  i indexes `ids` as given, BOS included; exclude.size()
  // must equal ids.size() (else the result is unscored and says so).  For selective
  // detection: skipping tokens the model was nearly sure of (low entropy, see
  // next_token_entropies in generate.h) keeps z calibrated on human text, because the choice
  // depends on the text and the model, never on the key, and it drops tokens the watermark
  // could not move.  The reference figures still count every token.
  DetectResult detect(std::span<const int32_t> ids, std::span<const uint8_t> exclude);
  const Watermark& watermark() const { return watermark_; }
  const DetectOptions& options() const { return options_; }

 private:
  struct Cache;
  Detector(Watermark wm, const DetectOptions& options);
  Watermark watermark_;
  DetectOptions options_;
  std::unique_ptr<Cache> cache_;
};

// Statistics, exposed for tests and evaluation.
double normal_upper_tail(double z);                                      // P(Z > z)
double binomial_upper_tail(int64_t successes, int64_t trials, double p);  // P(X >= successes)
double watermark_z(int64_t green, int64_t scored, double gamma);

// Optional text normalisation before tokenizing for detection, exactly the reference
// detector's default "unicode" normaliser: Unicode NFC; invisible and unusual space characters
// (U+00A0, U+2000-U+200F, U+FEFF, variation selectors, ...) become spaces; runs of spaces
// collapse to one; control characters (including newlines and tabs) are removed.  Off by
// default in plumb because it changes tokenization: text generated with newlines no longer
// tokenizes into the generated ids.  Turn it on to match the reference's text-mode verdicts,
// or when the text went through an editor or a copy-paste that rewrote characters.
Result<std::string> watermark_normalize(std::string_view text);

}  // namespace plumb
