#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "tokenizer/unicode.h"
#include "tokenizer/word_cache.h"

namespace plumb::tok {

const std::string VocabTokenizer::kEmpty;

void escape_whitespace(std::string_view in, std::string* out) {
  out->reserve(out->size() + in.size() + in.size() / 4);
  for (char c : in) {
    if (c == ' ') {
      out->append(kSpmSpace);
    } else {
      out->push_back(c);
    }
  }
}

std::string unescape_whitespace(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      out.push_back(' ');
      i += kSpmSpace.size();
    } else {
      out.push_back(in[i++]);
    }
  }
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "<0xNN>" -> NN, else -1.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  const int hi = hex_value(t[3]), lo = hex_value(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// GPT-2 byte-level token text -> bytes.  A code point outside the mapping is kept
// visible the way llama.cpp does it.
std::string decode_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = decode_utf8(text, &pos);
    const int b = unicode_to_byte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out += "[UNK_BYTE_0x";
      char buf[4];
      for (size_t k = start; k < pos; ++k) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<uint8_t>(text[k]));
        out += buf;
      }
      out += std::string(text) + "]";
    }
  }
  return out;
}

// Texts llama.cpp treats as end of generation (and forces to control type).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
};
// Texts llama.cpp takes as EOT when tokenizer.ggml.eot_token_id is absent.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", "<end_of_utterance>",
};

}  // namespace

Result<std::unique_ptr<VocabTokenizer>> VocabTokenizer::create(VocabData v) {
  std::unique_ptr<VocabTokenizer> t(new VocabTokenizer());
  t->v_ = std::move(v);
  PLUMB_RETURN_IF_ERROR(t->build());
  return t;
}

Status VocabTokenizer::build() {
  const std::string& src = v_.source;
  if (v_.tokens.empty()) return Status::Corrupt(src + ": tokenizer.ggml.tokens: expected at least one token, found none");
  if (v_.tokens.size() > static_cast<size_t>(INT32_MAX / 2)) {
    return Status::Corrupt(src + ": tokenizer.ggml.tokens: " + std::to_string(v_.tokens.size()) + " tokens is too many");
  }
  n_vocab_ = static_cast<int32_t>(v_.tokens.size());
  if (!v_.scores.empty() && v_.scores.size() != v_.tokens.size()) {
    return Status::Corrupt(src + ": tokenizer.ggml.scores: expected " + std::to_string(n_vocab_) + " entries, found " +
                           std::to_string(v_.scores.size()));
  }
  if (v_.scores.empty()) v_.scores.assign(n_vocab_, 0.0f);
  if (v_.attrs.empty()) v_.attrs.assign(n_vocab_, kAttrNormal);
  if (v_.attrs.size() != v_.tokens.size()) {
    return Status::Corrupt(src + ": tokenizer.ggml.token_type: expected " + std::to_string(n_vocab_) + " entries, found " +
                           std::to_string(v_.attrs.size()));
  }
  for (int32_t i = 0; i < n_vocab_; ++i) {
    if (v_.tokens[i].empty()) v_.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
  }
  for (TokenId* id : {&v_.bos, &v_.eos, &v_.eot, &v_.eom, &v_.unk, &v_.sep, &v_.pad}) {
    if (*id < 0 || *id >= n_vocab_) *id = kNoToken;
  }

  strings_ = v_.tokens;
  strings_.reserve(strings_.size() + v_.merges.size());
  map_.build(strings_);
  for (const auto& t : v_.tokens) max_token_len_ = std::max(max_token_len_, t.size());

  if (v_.model == TokenizerModel::kBpe) {
    merges_.reserve(v_.merges.size());
    auto sid_of = [&](std::string_view s) {
      const int32_t id = map_.find(s);
      if (id >= 0) return id;
      strings_.emplace_back(s);
      return map_.add_last();
    };
    std::string joined;
    for (size_t rank = 0; rank < v_.merges.size(); ++rank) {
      const std::string& m = v_.merges[rank];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) continue;  // llama.cpp keeps it as ("", ""), which never matches
      const std::string_view a(m.data(), sp), b(m.data() + sp + 1, m.size() - sp - 1);
      // Merge parts get ids too (tokens keep theirs), so that BPE compares ids, not strings.
      const int32_t sa = sid_of(a);
      const int32_t sb = sid_of(b);
      joined.assign(a);
      joined.append(b);
      const int32_t sm = sid_of(joined);
      merges_.insert(sa, sb, {static_cast<int32_t>(rank), sm});
    }
    if (v_.pre_regexes.empty() && !v_.pre_regexes_explicit) {
      PLUMB_ASSIGN_OR_RETURN(v_.pre_regexes, pre_tokenizer_regexes(v_.pre));
    }
    if (Status s = pre_.compile(v_.pre_regexes); !s.ok()) return s.with_context(src);
  }

  byte_tokens_.fill(kNoToken);
  single_byte_tokens_.fill(kNoToken);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    byte_tokens_[b] = find_token(buf);
    const char c = static_cast<char>(b);
    single_byte_tokens_[b] = find_token(std::string_view(&c, 1));
  }

  // End of generation: the ids named in metadata plus the well-known texts.
  if (v_.eot == kNoToken) {
    for (auto t : kEotTexts) {
      if (TokenId id = find_token(t); id != kNoToken) {
        v_.eot = id;
        break;
      }
    }
  }
  if (v_.eom == kNoToken) v_.eom = find_token("<|eom_id|>");
  eog_.assign(n_vocab_, 0);
  for (auto t : kEogTexts) {
    if (TokenId id = find_token(t); id != kNoToken) eog_[id] = 1;
  }
  // Like llama.cpp, tokens with these texts are control tokens whatever the file says: they
  // are then matched in text only with parse_special and hidden when detokenizing.
  for (int32_t id = 0; id < n_vocab_; ++id) {
    if (eog_[id]) v_.attrs[id] |= kAttrControl;
  }
  for (TokenId id : {v_.eot, v_.eom}) {
    if (id != kNoToken) eog_[id] = 1;
  }
  // o200k_harmony: "<|end|>" ends a message, not the generation.
  const TokenId end_id = find_token("<|end|>");
  if (end_id != kNoToken && ((find_token("<|return|>") != kNoToken && find_token("<|call|>") != kNoToken) ||
                             (find_token("<|calls|>") != kNoToken && find_token("<|flush|>") != kNoToken))) {
    eog_[end_id] = 0;
    v_.attrs[end_id] = kAttrUserDefined;
  }
  if (v_.eos != kNoToken) eog_[v_.eos] = 1;

  // Tokens the partitioner looks for: control, user-defined and unknown, longest first.
  for (int32_t id = 0; id < n_vocab_; ++id) {
    if (v_.attrs[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_cache_.push_back(id);
  }
  // Per-model whitespace stripping around special tokens (llama.cpp keys it on these names).
  std::string lname = v_.general_name;
  for (char& c : lname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto contains = [](const std::string& s, std::initializer_list<std::string_view> subs) {
    for (auto sub : subs) {
      if (s.find(sub) != std::string::npos) return true;
    }
    return false;
  };
  if (contains(v_.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains(v_.general_arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    if (TokenId id = find_token("<mask>"); id != kNoToken) v_.attrs[id] |= kAttrLstrip;
  } else if (contains(lname, {"phi-3", "phi3"})) {
    for (TokenId id : special_cache_) v_.attrs[id] |= kAttrRstrip;
    if (TokenId id = find_token("</s>"); id != kNoToken) v_.attrs[id] |= kAttrRstrip;
    for (auto t : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (TokenId id = find_token(t); id != kNoToken) v_.attrs[id] &= static_cast<uint8_t>(~kAttrRstrip);
    }
  } else if (contains(lname, {"modern-bert"})) {
    if (TokenId id = find_token("[MASK]"); id != kNoToken) v_.attrs[id] |= kAttrLstrip;
  }
  std::stable_sort(special_cache_.begin(), special_cache_.end(),
                   [&](TokenId a, TokenId b) { return v_.tokens[a].size() > v_.tokens[b].size(); });

  if (v_.model == TokenizerModel::kUnigram) {
    float min_score = 0;
    bool any = false;
    for (int32_t id = 0; id < n_vocab_; ++id) {
      if (v_.attrs[id] & kAttrNormal) {
        min_score = any ? std::min(min_score, v_.scores[id]) : v_.scores[id];
        any = true;
      }
    }
    unigram_unknown_score_ = min_score - 10.0f;
  }

  cache_owner_ = WordCache::new_owner_id();
  if (v_.model == TokenizerModel::kSpm) {
    for (const std::string& t : v_.tokens) {
      for (size_t k = t.find(kSpmSpace, 1); k != std::string::npos; k = t.find(kSpmSpace, k + 1)) {
        size_t b = k - 1;
        while (b > 0 && (static_cast<uint8_t>(t[b]) & 0xC0) == 0x80) --b;
        spm_joiners_.push_back(t.substr(b, k - b));
      }
    }
    spm_joiner_map_.build(spm_joiners_);
  }

  pieces_.resize(n_vocab_);
  for (int32_t id = 0; id < n_vocab_; ++id) {
    const std::string& text = v_.tokens[id];
    const uint8_t attr = v_.attrs[id];
    std::string& piece = pieces_[id];
    if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      piece = text;
    } else if (attr & kAttrNormal) {
      if (v_.model == TokenizerModel::kBpe && !v_.escape_whitespaces) {
        piece = decode_byte_level(text);
      } else {
        piece = unescape_whitespace(text);
      }
    } else if (attr & kAttrByte) {
      const int b = parse_byte_token(text);
      if (b >= 0) piece.assign(1, static_cast<char>(b));
    }
  }
  return Status::Ok();
}

const std::string& VocabTokenizer::token_text(TokenId id) const {
  return id >= 0 && id < n_vocab_ ? v_.tokens[id] : kEmpty;
}

bool VocabTokenizer::is_end_of_generation(TokenId id) const { return id >= 0 && id < n_vocab_ && eog_[id]; }

bool VocabTokenizer::is_special(TokenId id) const {
  return id >= 0 && id < n_vocab_ && (v_.attrs[id] & (kAttrControl | kAttrUserDefined));
}

TokenId VocabTokenizer::byte_fallback(uint8_t b) const {
  if (byte_tokens_[b] != kNoToken) return byte_tokens_[b];
  if (single_byte_tokens_[b] != kNoToken) return single_byte_tokens_[b];
  return v_.unk;
}

void VocabTokenizer::partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const {
  out->clear();
  if (text.empty()) return;
  out->push_back({kNoToken, 0, text.size()});
  std::vector<Fragment> next;
  for (TokenId id : special_cache_) {
    // Control and unknown tokens only when asked; user-defined tokens always (as llama.cpp,
    // following Hugging Face's added-token handling).
    if (!parse_special && (v_.attrs[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& st = v_.tokens[id];
    if (text.find(st) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : *out) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      while (pos < f.end) {
        const size_t m = text.substr(0, f.end).find(st, pos);
        if (m == std::string_view::npos) break;
        size_t left_end = m;
        if (v_.attrs[id] & kAttrLstrip) {
          while (left_end > pos && std::isspace(static_cast<unsigned char>(text[left_end - 1]))) --left_end;
        }
        if (left_end > pos) next.push_back({kNoToken, pos, left_end});
        next.push_back({id, 0, 0});
        pos = m + st.size();
        if (v_.attrs[id] & kAttrRstrip) {
          while (pos < f.end && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
        }
      }
      if (pos < f.end) next.push_back({kNoToken, pos, f.end});
    }
    out->swap(next);
  }
}

std::vector<TokenId> VocabTokenizer::tokenize(std::string_view text, const TokenizeOptions& opts) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  std::vector<Fragment> frags;
  partition(text, opts.parse_special, &frags);
  const bool add = opts.add_special;

  switch (v_.model) {
    case TokenizerModel::kSpm: {
      if (add && v_.add_bos && v_.bos != kNoToken) out.push_back(v_.bos);
      bool prev_special = true;  // the first fragment gets the space prefix
      std::string buf;
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        buf.clear();
        if (v_.add_space_prefix && prev_special) buf.append(kSpmSpace);
        escape_whitespace(text.substr(f.begin, f.end - f.begin), &buf);
        encode_spm(buf, &out);
        prev_special = false;
      }
      if (add && v_.add_eos && v_.eos != kNoToken) out.push_back(v_.eos);
      break;
    }
    case TokenizerModel::kBpe: {
      if (add && v_.add_bos && v_.bos != kNoToken) out.push_back(v_.bos);
      std::string buf;
      bool prev_special = true;
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        const std::string_view frag = text.substr(f.begin, f.end - f.begin);
        if (v_.escape_whitespaces) {
          buf.clear();
          if (v_.add_space_prefix && prev_special) buf.append(kSpmSpace);  // never set for GGUF BPE
          prev_special = false;
          escape_whitespace(frag, &buf);
          encode_bpe(buf, &out);
        } else {
          encode_bpe(frag, &out);
        }
      }
      if (add && v_.add_eos && v_.eos != kNoToken) out.push_back(v_.eos);
      break;
    }
    case TokenizerModel::kWordPiece: {
      if (add && v_.bos != kNoToken) out.push_back(v_.bos);
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
        } else {
          encode_wpm(text.substr(f.begin, f.end - f.begin), &out);
        }
      }
      if (add && v_.add_sep && v_.sep != kNoToken) out.push_back(v_.sep);
      break;
    }
    case TokenizerModel::kUnigram: {
      if (add && v_.add_bos && v_.bos != kNoToken) out.push_back(v_.bos);
      for (const Fragment& f : frags) {
        if (f.token != kNoToken) {
          out.push_back(f.token);
        } else {
          encode_unigram(text.substr(f.begin, f.end - f.begin), &out);
        }
      }
      if (add && v_.add_eos && v_.eos != kNoToken) out.push_back(v_.eos);
      break;
    }
  }
  return out;
}

std::string VocabTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (id < 0 || id >= n_vocab_) return {};
  if (!render_special && (v_.attrs[id] & (kAttrUnknown | kAttrControl))) return {};
  return pieces_[id];
}

std::string VocabTokenizer::detokenize(std::span<const TokenId> ids, bool render_special) const {
  return detokenize_impl(ids, render_special, v_.add_space_prefix);
}

std::string VocabTokenizer::detokenize_continuation(std::span<const TokenId> ids, bool render_special) const {
  return detokenize_impl(ids, render_special, false);
}

std::string VocabTokenizer::detokenize_impl(std::span<const TokenId> ids, bool render_special, bool remove_space) const {
  std::string text;
  for (TokenId id : ids) {
    if (id < 0 || id >= n_vocab_) {
      remove_space = false;
      continue;
    }
    const bool hidden = !render_special && (v_.attrs[id] & (kAttrUnknown | kAttrControl));
    std::string_view piece = hidden ? std::string_view() : std::string_view(pieces_[id]);
    // Only the first token loses its leading space (SentencePiece's prefix), even when
    // that first token renders as nothing.
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    remove_space = false;
    text.append(piece);
  }
  if (!v_.clean_spaces || text.size() < 2) return text;

  // The three clean-up passes of Hugging Face's clean_up_tokenization, as llama.cpp has them.
  std::string& t = text;
  size_t total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " ?", " !", " .", " ," -> no space
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  t.resize(total);
  total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " ' " -> "'"
    const char x = t[i];
    if (x == '\'' && i + 1 < t.size() && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';  // the next space is dropped below (it is copied as NUL, then overwritten)
      t[total++] = x;
      continue;
    }
    t[total++] = x;
  }
  t.resize(total);
  total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " 's", " 'm", " 're", " 've" -> no space
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < t.size()) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < t.size()) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
  return text;
}

Result<std::unique_ptr<Tokenizer>> make_tokenizer(VocabData v) {
  PLUMB_ASSIGN_OR_RETURN(auto t, VocabTokenizer::create(std::move(v)));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace plumb::tok
