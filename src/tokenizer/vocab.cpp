#include "tokenizer/vocab.h"

#include <algorithm>

#include "plumb/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_impl.h"

namespace plumb::tok {

uint8_t attr_from_token_type(int64_t type) {
  switch (type) {
    case kTypeNormal: return kAttrNormal;
    case kTypeUnknown: return kAttrUnknown;
    case kTypeControl: return kAttrControl;
    case kTypeUserDefined: return kAttrUserDefined;
    case kTypeUnused: return kAttrUnused;
    case kTypeByte: return kAttrByte;
    default: return 0;  // undefined: renders as nothing, never split off
  }
}

namespace {

// Flags llama.cpp sets per pre-tokenizer name (llama_vocab::impl::load).
struct PreFlags {
  std::vector<std::string_view> names;
  bool clean_spaces = true;
  bool ignore_merges = false;
  bool add_bos = false;
  bool no_bos = false;
};
const std::vector<PreFlags>& pre_flags() {
  static const std::vector<PreFlags> table = {
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"}, true, true, true},
      {{"deepseek-llm", "deepseek-coder", "deepseek-v3", "command-r", "qwen2", "deepseek-r1-qwen", "poro-chat",
        "viking", "smollm", "gpt-4o", "llama4", "trillion", "granite-docling", "bailingmoe", "bailingmoe2",
        "llada-moe", "seed-coder", "hunyuan", "hunyuan-dense", "grok-2", "minimax-m2"},
       false},
      {{"tekken"}, false, true, true},
      {{"chameleon"}, false, false, true},
      {{"glm4", "chatglm-bpe"}, true, false, false, true},
  };
  return table;
}

// Typed reads of GGUF values that accept the integer/float widths llama.cpp accepts.
Result<int64_t> value_int(const gguf::Value& v, const std::string& where) {
  switch (v.type) {
    case gguf::ValueType::kUint8: case gguf::ValueType::kUint16: case gguf::ValueType::kUint32:
    case gguf::ValueType::kUint64: case gguf::ValueType::kBool:
      return static_cast<int64_t>(v.u);
    case gguf::ValueType::kInt8: case gguf::ValueType::kInt16: case gguf::ValueType::kInt32:
    case gguf::ValueType::kInt64:
      return v.i;
    default:
      return Status::Corrupt(where + ": expected an integer, found " + std::string(gguf::value_type_name(v.type)));
  }
}

Result<double> value_float(const gguf::Value& v, const std::string& where) {
  if (v.type == gguf::ValueType::kFloat32 || v.type == gguf::ValueType::kFloat64) return v.f;
  auto i = value_int(v, where);
  if (i.ok()) return static_cast<double>(*i);
  return Status::Corrupt(where + ": expected a number, found " + std::string(gguf::value_type_name(v.type)));
}

const gguf::Value* find_array(const gguf::File& f, const std::string& key, gguf::ValueType elem, Status* err) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return nullptr;
  if (v->type != gguf::ValueType::kArray || (elem != gguf::ValueType::kArray && v->array_type != elem)) {
    *err = Status::Corrupt(f.path() + ": " + key + ": expected an array of " + std::string(gguf::value_type_name(elem)) +
                           ", found " + std::string(gguf::value_type_name(v->type)) +
                           (v->type == gguf::ValueType::kArray ? " of " + std::string(gguf::value_type_name(v->array_type)) : ""));
  }
  return v;
}

}  // namespace

Status apply_model_defaults(VocabData* v) {
  switch (v->model) {
    case TokenizerModel::kSpm:
      v->bos = 1, v->eos = 2, v->unk = 0, v->sep = kNoToken, v->pad = kNoToken;
      v->add_space_prefix = true;
      v->escape_whitespaces = true;
      v->clean_spaces = false;
      v->add_bos = true;
      v->add_eos = false;
      break;
    case TokenizerModel::kWordPiece:
      v->bos = 101, v->eos = kNoToken, v->unk = 100, v->sep = 102, v->pad = 0;
      v->add_sep = true;
      v->add_bos = true;
      v->add_eos = false;
      v->add_space_prefix = false;
      v->clean_spaces = true;
      break;
    case TokenizerModel::kUnigram:
      v->bos = kNoToken, v->eos = 1, v->unk = 2, v->pad = 0;
      v->add_bos = false;
      v->add_eos = true;
      v->escape_whitespaces = true;
      break;
    case TokenizerModel::kBpe: {
      v->bos = 11, v->eos = 11, v->unk = kNoToken;
      v->add_space_prefix = false;
      v->escape_whitespaces = false;
      v->clean_spaces = true;
      if (v->pre.empty()) v->pre = "default";
      if (v->pre_regexes.empty()) {
        auto re = pre_tokenizer_regexes(v->pre);
        if (!re.ok()) return re.status().with_context(v->source);
        v->pre_regexes = std::move(re).value();
      }
      for (const PreFlags& pf : pre_flags()) {
        if (std::find(pf.names.begin(), pf.names.end(), v->pre) == pf.names.end()) continue;
        v->clean_spaces = pf.clean_spaces;
        v->ignore_merges = pf.ignore_merges;
        v->add_bos = pf.add_bos;
        if (pf.no_bos) v->bos = kNoToken;
      }
      break;
    }
  }
  return Status::Ok();
}

Result<VocabData> vocab_from_gguf(const gguf::File& f) {
  VocabData v;
  v.source = f.path();
  const std::string& src = v.source;
  auto model_name = f.get_string("tokenizer.ggml.model");
  if (!model_name.ok()) {
    return Status::NotFound(src + ": tokenizer.ggml.model: not found; the file has no tokenizer");
  }
  const std::string& m = *model_name;
  if (m == "llama") {
    v.model = TokenizerModel::kSpm;
  } else if (m == "gpt2") {
    v.model = TokenizerModel::kBpe;
  } else if (m == "bert") {
    v.model = TokenizerModel::kWordPiece;
  } else {
    return Status::Unsupported(src + ": tokenizer.ggml.model: '" + m +
                               "' is not supported (expected 'llama', 'gpt2' or 'bert')");
  }
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre"); pre != nullptr && pre->type == gguf::ValueType::kString) {
    v.pre = pre->str;
  }
  if (v.model != TokenizerModel::kBpe) v.pre = "default";
  PLUMB_RETURN_IF_ERROR(apply_model_defaults(&v));

  Status err;
  const gguf::Value* tokens = find_array(f, "tokenizer.ggml.tokens", gguf::ValueType::kString, &err);
  PLUMB_RETURN_IF_ERROR(err);
  if (tokens == nullptr) return Status::NotFound(src + ": tokenizer.ggml.tokens: not found");
  const size_t n = tokens->array.size();
  v.tokens.reserve(n);
  for (const auto& t : tokens->array) v.tokens.push_back(t.str);

  if (const gguf::Value* scores = find_array(f, "tokenizer.ggml.scores", gguf::ValueType::kArray, &err)) {
    PLUMB_RETURN_IF_ERROR(err);
    if (scores->array.size() < n) {
      return Status::Corrupt(src + ": tokenizer.ggml.scores: expected " + std::to_string(n) + " entries, found " +
                             std::to_string(scores->array.size()));
    }
    v.scores.resize(n);
    for (size_t i = 0; i < n; ++i) {
      PLUMB_ASSIGN_OR_RETURN(double s, value_float(scores->array[i], src + ": tokenizer.ggml.scores[" + std::to_string(i) + "]"));
      v.scores[i] = static_cast<float>(s);
    }
  }
  v.attrs.assign(n, kAttrNormal);
  if (const gguf::Value* types = find_array(f, "tokenizer.ggml.token_type", gguf::ValueType::kArray, &err)) {
    PLUMB_RETURN_IF_ERROR(err);
    if (types->array.size() < n) {
      return Status::Corrupt(src + ": tokenizer.ggml.token_type: expected " + std::to_string(n) + " entries, found " +
                             std::to_string(types->array.size()));
    }
    for (size_t i = 0; i < n; ++i) {
      PLUMB_ASSIGN_OR_RETURN(int64_t t, value_int(types->array[i], src + ": tokenizer.ggml.token_type[" + std::to_string(i) + "]"));
      v.attrs[i] = attr_from_token_type(t);
    }
  }
  if (v.model == TokenizerModel::kBpe) {
    const gguf::Value* merges = find_array(f, "tokenizer.ggml.merges", gguf::ValueType::kString, &err);
    PLUMB_RETURN_IF_ERROR(err);
    if (merges == nullptr) return Status::NotFound(src + ": tokenizer.ggml.merges: not found (required for 'gpt2')");
    v.merges.reserve(merges->array.size());
    for (const auto& mv : merges->array) v.merges.push_back(mv.str);
  }

  struct IdKey {
    const char* key;
    TokenId* id;
  };
  // cls_token_id is the older name of BERT's BOS (CLS); the newer key wins when both exist.
  const IdKey ids[] = {
      {"tokenizer.ggml.cls_token_id", &v.bos},        {"tokenizer.ggml.bos_token_id", &v.bos},
      {"tokenizer.ggml.eos_token_id", &v.eos},        {"tokenizer.ggml.eot_token_id", &v.eot},
      {"tokenizer.ggml.eom_token_id", &v.eom},        {"tokenizer.ggml.unknown_token_id", &v.unk},
      {"tokenizer.ggml.seperator_token_id", &v.sep},  {"tokenizer.ggml.padding_token_id", &v.pad},
  };
  for (const IdKey& k : ids) {
    if (*k.id >= static_cast<int64_t>(n)) *k.id = kNoToken;  // a default outside the vocabulary
    const gguf::Value* val = f.find(k.key);
    if (val == nullptr) continue;
    PLUMB_ASSIGN_OR_RETURN(int64_t id, value_int(*val, src + ": " + k.key));
    if (id >= 0 && id < static_cast<int64_t>(n)) *k.id = static_cast<TokenId>(id);  // else keep the default
  }
  struct BoolKey {
    const char* key;
    bool* flag;
  };
  const BoolKey flags[] = {
      {"tokenizer.ggml.add_bos_token", &v.add_bos},
      {"tokenizer.ggml.add_eos_token", &v.add_eos},
      {"tokenizer.ggml.add_sep_token", &v.add_sep},
      {"tokenizer.ggml.add_space_prefix", &v.add_space_prefix},
      {"tokenizer.ggml.remove_extra_whitespaces", &v.remove_extra_whitespaces},
  };
  for (const BoolKey& k : flags) {
    const gguf::Value* val = f.find(k.key);
    if (val == nullptr) continue;
    if (val->type != gguf::ValueType::kBool) {
      return Status::Corrupt(src + ": " + k.key + ": expected bool, found " + std::string(gguf::value_type_name(val->type)));
    }
    *k.flag = val->u != 0;
  }
  if (const gguf::Value* name = f.find("general.name"); name && name->type == gguf::ValueType::kString) {
    v.general_name = name->str;
  }
  if (const gguf::Value* arch = f.find("general.architecture"); arch && arch->type == gguf::ValueType::kString) {
    v.general_arch = arch->str;
  }
  if (const gguf::Value* tpl = f.find("tokenizer.chat_template"); tpl && tpl->type == gguf::ValueType::kString) {
    v.chat_template = tpl->str;
  }
  return v;
}

}  // namespace plumb::tok
