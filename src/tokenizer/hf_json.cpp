#include "tokenizer/hf_json.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_impl.h"

namespace plumb::tok {

namespace {

using json = nlohmann::json;

// Hugging Face's ByteLevel(use_regex=true) split, the GPT-2 pattern.
constexpr const char* kByteLevelRegex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string str_or(const json& j, const char* key, std::string fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool bool_or(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// Flattens a pre-tokenizer or normaliser (a single one or a Sequence) into a list.
void flatten(const json& j, const char* seq_key, std::vector<const json*>* out) {
  if (!j.is_object()) return;
  if (str_or(j, "type", "") == "Sequence") {
    auto it = j.find(seq_key);
    if (it != j.end() && it->is_array()) {
      for (const auto& e : *it) flatten(e, seq_key, out);
    }
    return;
  }
  out->push_back(&j);
}

Status bad(const std::string& name, const std::string& what) { return Status::Corrupt(name + ": " + what); }

}  // namespace

Result<VocabData> vocab_from_hf_json(std::string_view text, const std::string& name) {
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return bad(name, "not a JSON object (expected a tokenizer.json)");
  auto mit = root.find("model");
  if (mit == root.end() || !mit->is_object()) return bad(name, "model: missing (expected an object)");
  const json& model = *mit;
  const std::string type = str_or(model, "type", model.contains("merges") ? "BPE" : "");

  VocabData v;
  v.source = name;
  std::vector<std::pair<std::string, int64_t>> entries;  // text, id
  std::vector<float> unigram_scores;
  if (type == "BPE" || type == "WordPiece") {
    auto vit = model.find("vocab");
    if (vit == model.end() || !vit->is_object()) return bad(name, "model.vocab: expected an object of token -> id");
    for (auto it = vit->begin(); it != vit->end(); ++it) {
      if (!it.value().is_number_integer()) return bad(name, "model.vocab['" + it.key() + "']: expected an integer id");
      entries.emplace_back(it.key(), it.value().get<int64_t>());
    }
  } else if (type == "Unigram") {
    auto vit = model.find("vocab");
    if (vit == model.end() || !vit->is_array()) return bad(name, "model.vocab: expected an array of [piece, score]");
    int64_t id = 0;
    for (const auto& e : *vit) {
      if (!e.is_array() || e.size() < 2 || !e[0].is_string() || !e[1].is_number()) {
        return bad(name, "model.vocab[" + std::to_string(id) + "]: expected [piece, score]");
      }
      entries.emplace_back(e[0].get<std::string>(), id++);
      unigram_scores.push_back(e[1].get<float>());
    }
  } else {
    return Status::Unsupported(name + ": model.type '" + type + "' is not supported (expected BPE, Unigram or WordPiece)");
  }

  // Added tokens may extend the vocabulary.
  std::vector<std::pair<int64_t, bool>> added;  // id, special
  if (auto at = root.find("added_tokens"); at != root.end() && at->is_array()) {
    for (const auto& t : *at) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string()) {
        return bad(name, "added_tokens: expected objects with integer 'id' and string 'content'");
      }
      entries.emplace_back(t["content"].get<std::string>(), t["id"].get<int64_t>());
      added.emplace_back(t["id"].get<int64_t>(), bool_or(t, "special", false));
    }
  }
  int64_t n = 0;
  for (const auto& [t, id] : entries) {
    if (id < 0 || id >= (int64_t{1} << 24)) return bad(name, "token '" + t + "': id " + std::to_string(id) + " out of range");
    n = std::max(n, id + 1);
  }
  v.tokens.assign(n, std::string());
  v.attrs.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [t, id] : entries) {
    v.tokens[id] = t;
    v.attrs[id] = kAttrNormal;
  }
  for (const auto& [id, special] : added) v.attrs[id] = special ? kAttrControl : kAttrUserDefined;
  auto find_id = [&](std::string_view t) -> TokenId {
    for (int64_t i = 0; i < n; ++i) {
      if (v.tokens[i] == t) return static_cast<TokenId>(i);
    }
    return kNoToken;
  };

  std::vector<const json*> pres, norms;
  if (auto p = root.find("pre_tokenizer"); p != root.end()) flatten(*p, "pretokenizers", &pres);
  if (auto p = root.find("normalizer"); p != root.end()) flatten(*p, "normalizers", &norms);
  bool metaspace = false, prepend_space = false, replace_space = false, byte_level = false, lowercase = false;
  std::vector<std::string> regexes;
  for (const json* p : pres) {
    const std::string pt = str_or(*p, "type", "");
    if (pt == "ByteLevel") {
      byte_level = true;
      if (bool_or(*p, "use_regex", true)) regexes.emplace_back(kByteLevelRegex);
    } else if (pt == "Split") {
      auto pat = p->find("pattern");
      if (pat == p->end() || !pat->is_object()) return bad(name, "pre_tokenizer Split: pattern: expected an object");
      if (pat->contains("Regex")) {
        regexes.push_back((*pat)["Regex"].get<std::string>());
      } else if (pat->contains("String")) {
        std::string lit;
        for (char c : (*pat)["String"].get<std::string>()) {
          if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) lit += '\\';
          lit += c;
        }
        regexes.push_back(lit);
      }
      const std::string behavior = str_or(*p, "behavior", "Isolated");
      if (behavior != "Isolated" || bool_or(*p, "invert", false)) {
        return Status::Unsupported(name + ": pre_tokenizer Split with behavior '" + behavior + "' is not supported");
      }
    } else if (pt == "Digits") {
      regexes.emplace_back(bool_or(*p, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    } else if (pt == "Metaspace") {
      metaspace = true;
      const std::string scheme = str_or(*p, "prepend_scheme", bool_or(*p, "add_prefix_space", true) ? "always" : "never");
      prepend_space = scheme != "never";
    } else if (pt == "Whitespace" || pt == "WhitespaceSplit" || pt == "BertPreTokenizer" || pt == "Punctuation") {
      // WordPiece does its own splitting.
    } else {
      return Status::Unsupported(name + ": pre_tokenizer type '" + pt + "' is not supported");
    }
  }
  for (const json* nz : norms) {
    const std::string nt = str_or(*nz, "type", "");
    if (nt == "Prepend" && str_or(*nz, "prepend", "") == std::string(kSpmSpace)) prepend_space = true;
    if (nt == "Replace") {
      auto pat = nz->find("pattern");
      if (pat != nz->end() && pat->is_object() && str_or(*pat, "String", "") == " " &&
          str_or(*nz, "content", "") == std::string(kSpmSpace)) {
        replace_space = true;
      }
    }
    if (nt == "BertNormalizer") lowercase = bool_or(*nz, "lowercase", true);
    if (nt == "Lowercase") lowercase = true;
    if (nt == "Precompiled") {
      // The precompiled map mostly applies NFKC; plain text passes unchanged.
    }
  }

  if (type == "BPE") {
    v.model = TokenizerModel::kBpe;
    auto mg = model.find("merges");
    if (mg == model.end() || !mg->is_array()) return bad(name, "model.merges: expected an array");
    v.merges.reserve(mg->size());
    for (const auto& m : *mg) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return bad(name, "model.merges[" + std::to_string(v.merges.size()) + "]: expected \"a b\" or [a, b]");
      }
    }
    v.ignore_merges = bool_or(model, "ignore_merges", false);
    v.pre = "hf";
    v.pre_regexes_explicit = true;
    if (byte_level || !(metaspace || replace_space)) {
      v.byte_encode = true;
      v.pre_regexes = regexes;
    } else {  // SentencePiece-style BPE over raw UTF-8 with U+2581 for spaces
      v.byte_encode = false;
      v.escape_whitespaces = true;
      v.add_space_prefix = prepend_space;
      for (int64_t i = 0; i < n; ++i) {
        if (v.tokens[i].size() == 6 && v.tokens[i].rfind("<0x", 0) == 0 && v.attrs[i] == kAttrNormal) v.attrs[i] = kAttrByte;
      }
    }
    if (std::string unk = str_or(model, "unk_token", ""); !unk.empty()) v.unk = find_id(unk);
  } else if (type == "Unigram") {
    v.model = TokenizerModel::kUnigram;
    v.scores.assign(n, 0.0f);
    for (size_t i = 0; i < unigram_scores.size(); ++i) v.scores[i] = unigram_scores[i];
    v.escape_whitespaces = metaspace || replace_space || true;
    v.add_space_prefix = prepend_space;
    if (auto u = model.find("unk_id"); u != model.end() && u->is_number_integer()) {
      const int64_t id = u->get<int64_t>();
      if (id >= 0 && id < n) {
        v.unk = static_cast<TokenId>(id);
        v.attrs[id] = kAttrUnknown;
      }
    }
  } else {  // WordPiece: convert to llama.cpp's form ("\u2581" word starts, no "##")
    v.model = TokenizerModel::kWordPiece;
    const std::string prefix = str_or(model, "continuing_subword_prefix", "##");
    for (int64_t i = 0; i < n; ++i) {
      if (v.attrs[i] != kAttrNormal) continue;
      std::string& t = v.tokens[i];
      if (!prefix.empty() && t.rfind(prefix, 0) == 0) {
        t.erase(0, prefix.size());
      } else {
        t.insert(0, kSpmSpace);
      }
    }
    v.lowercase = v.strip_accents = lowercase;
    v.add_bos = v.add_sep = true;
    v.bos = find_id("[CLS]");
    v.sep = find_id("[SEP]");
    v.unk = find_id(str_or(model, "unk_token", "[UNK]"));
    v.pad = find_id("[PAD]");
  }

  // BOS/EOS: from a TemplateProcessing post-processor when there is one, else by name.
  if (v.model != TokenizerModel::kWordPiece) {
    for (auto t : {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"}) {
      if (v.bos == kNoToken) v.bos = find_id(t);
    }
    for (auto t : {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"}) {
      if (v.eos == kNoToken) v.eos = find_id(t);
    }
    if (auto pp = root.find("post_processor"); pp != root.end() && pp->is_object()) {
      std::vector<const json*> procs;
      flatten(*pp, "processors", &procs);
      for (const json* p : procs) {
        if (str_or(*p, "type", "") != "TemplateProcessing") continue;
        auto single = p->find("single");
        if (single == p->end() || !single->is_array() || single->empty()) continue;
        auto special_of = [&](const json& item) -> TokenId {
          if (!item.is_object() || !item.contains("SpecialToken")) return kNoToken;
          return find_id(str_or(item["SpecialToken"], "id", ""));
        };
        if (TokenId b = special_of(single->front()); b != kNoToken) {
          v.bos = b;
          v.add_bos = true;
        }
        if (single->size() > 1) {
          if (TokenId e = special_of(single->back()); e != kNoToken) {
            v.eos = e;
            v.add_eos = true;
          }
        }
      }
    }
  }
  return v;
}

Result<VocabData> vocab_from_hf_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return vocab_from_hf_json(ss.str(), path);
}

}  // namespace plumb::tok
