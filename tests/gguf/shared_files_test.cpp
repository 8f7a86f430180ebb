// The GGUF files in ../shared (written by other tools) read back with exactly what an
// independent parser (a short Python script run once, see docs/gguf.md) found in them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

#include "plumb/gguf.h"
#include "support/test_support.h"

namespace plumb::gguf {
namespace {

struct TensorExpect {
  const char* name;
  std::vector<int64_t> shape;
  uint64_t offset;
};

// stories260K.gguf: 47 F32 tensors, in file order.
const std::vector<TensorExpect> kStoriesTensors = {
    {"token_embd.weight", {64, 512}, 0},
    {"output_norm.weight", {64}, 131072},
    {"blk.0.attn_norm.weight", {64}, 131328},
    {"blk.0.attn_q.weight", {64, 64}, 131584},
    {"blk.0.attn_k.weight", {64, 32}, 147968},
    {"blk.0.attn_v.weight", {64, 32}, 156160},
    {"blk.0.attn_output.weight", {64, 64}, 164352},
    {"blk.0.ffn_norm.weight", {64}, 180736},
    {"blk.0.ffn_gate.weight", {64, 172}, 180992},
    {"blk.0.ffn_down.weight", {172, 64}, 225024},
    {"blk.0.ffn_up.weight", {64, 172}, 269056},
    {"blk.1.attn_norm.weight", {64}, 313088},
    {"blk.1.attn_q.weight", {64, 64}, 313344},
    {"blk.1.attn_k.weight", {64, 32}, 329728},
    {"blk.1.attn_v.weight", {64, 32}, 337920},
    {"blk.1.attn_output.weight", {64, 64}, 346112},
    {"blk.1.ffn_norm.weight", {64}, 362496},
    {"blk.1.ffn_gate.weight", {64, 172}, 362752},
    {"blk.1.ffn_down.weight", {172, 64}, 406784},
    {"blk.1.ffn_up.weight", {64, 172}, 450816},
    {"blk.2.attn_norm.weight", {64}, 494848},
    {"blk.2.attn_q.weight", {64, 64}, 495104},
    {"blk.2.attn_k.weight", {64, 32}, 511488},
    {"blk.2.attn_v.weight", {64, 32}, 519680},
    {"blk.2.attn_output.weight", {64, 64}, 527872},
    {"blk.2.ffn_norm.weight", {64}, 544256},
    {"blk.2.ffn_gate.weight", {64, 172}, 544512},
    {"blk.2.ffn_down.weight", {172, 64}, 588544},
    {"blk.2.ffn_up.weight", {64, 172}, 632576},
    {"blk.3.attn_norm.weight", {64}, 676608},
    {"blk.3.attn_q.weight", {64, 64}, 676864},
    {"blk.3.attn_k.weight", {64, 32}, 693248},
    {"blk.3.attn_v.weight", {64, 32}, 701440},
    {"blk.3.attn_output.weight", {64, 64}, 709632},
    {"blk.3.ffn_norm.weight", {64}, 726016},
    {"blk.3.ffn_gate.weight", {64, 172}, 726272},
    {"blk.3.ffn_down.weight", {172, 64}, 770304},
    {"blk.3.ffn_up.weight", {64, 172}, 814336},
    {"blk.4.attn_norm.weight", {64}, 858368},
    {"blk.4.attn_q.weight", {64, 64}, 858624},
    {"blk.4.attn_k.weight", {64, 32}, 875008},
    {"blk.4.attn_v.weight", {64, 32}, 883200},
    {"blk.4.attn_output.weight", {64, 64}, 891392},
    {"blk.4.ffn_norm.weight", {64}, 907776},
    {"blk.4.ffn_gate.weight", {64, 172}, 908032},
    {"blk.4.ffn_down.weight", {172, 64}, 952064},
    {"blk.4.ffn_up.weight", {64, 172}, 996096},
};

TEST(GgufShared, Stories260KMatchesIndependentParse) {
  PLUMB_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const File& m = **f;
  EXPECT_EQ(m.version(), 3u);
  EXPECT_EQ(m.alignment(), 32u);
  EXPECT_EQ(m.data_offset(), 14240u);
  EXPECT_EQ(m.file_size(), 1054368u);
  EXPECT_EQ(m.metadata().size(), 23u);
  ASSERT_EQ(m.tensors().size(), kStoriesTensors.size());
  for (size_t i = 0; i < kStoriesTensors.size(); ++i) {
    const TensorInfo& t = m.tensors()[i];
    EXPECT_EQ(t.name, kStoriesTensors[i].name);
    EXPECT_EQ(t.shape, kStoriesTensors[i].shape) << t.name;
    EXPECT_EQ(t.type, TensorType::kF32) << t.name;
    EXPECT_EQ(t.offset, kStoriesTensors[i].offset) << t.name;
    EXPECT_EQ(t.n_bytes, static_cast<uint64_t>(t.n_elements()) * 4) << t.name;
  }
  // Metadata, with the types the file stores.
  EXPECT_EQ(*m.get_string("general.architecture"), "llama");
  EXPECT_EQ(*m.get_string("general.name"), "stories260K");
  struct IntKey { const char* key; int64_t value; };
  for (const IntKey& k : std::vector<IntKey>{{"general.alignment", 32}, {"llama.context_length", 512},
                                             {"llama.embedding_length", 64}, {"llama.block_count", 5},
                                             {"llama.feed_forward_length", 172}, {"llama.rope.dimension_count", 8},
                                             {"llama.attention.head_count", 8}, {"llama.attention.head_count_kv", 4},
                                             {"llama.vocab_size", 512}, {"tokenizer.ggml.bos_token_id", 1},
                                             {"tokenizer.ggml.eos_token_id", 2}, {"tokenizer.ggml.unknown_token_id", 0}}) {
    EXPECT_EQ(m.find(k.key)->type, ValueType::kUint32) << k.key;
    EXPECT_EQ(*m.get_int(k.key), k.value) << k.key;
  }
  EXPECT_EQ(m.find("llama.attention.layer_norm_rms_epsilon")->type, ValueType::kFloat32);
  uint32_t eps_bits;
  const float eps = static_cast<float>(*m.get_float("llama.attention.layer_norm_rms_epsilon"));
  std::memcpy(&eps_bits, &eps, 4);
  EXPECT_EQ(eps_bits, 925353388u);  // the stored f32 bits of 1e-5
  EXPECT_EQ(*m.get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(*m.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*m.get_string("tokenizer.ggml.pre"), "default");
  EXPECT_EQ(*m.get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(*m.get_bool("tokenizer.ggml.add_eos_token"), false);
  const auto tokens = *m.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(tokens[259], "\xE2\x96\x81t");  // "▁t"
  EXPECT_EQ(tokens[265], "\xE2\x96\x81the");
  EXPECT_EQ(tokens[300], "\xE2\x96\x81ha");
  const auto scores = *m.get_float_array("tokenizer.ggml.scores");
  ASSERT_EQ(scores.size(), 512u);
  EXPECT_EQ(scores[300], -41.0f);
  EXPECT_EQ(scores[511], -252.0f);
  const auto types = *m.get_int_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[258], 6);
  EXPECT_EQ(types[259], 1);
  // Tensor bytes: first floats of token_embd (raw bits), last two of blk.4.ffn_up.
  auto embd = m.tensor_data(*m.find_tensor("token_embd.weight"));
  uint32_t bits[4];
  std::memcpy(bits, embd.data(), 16);
  EXPECT_EQ(bits[0], 3197561168u);
  EXPECT_EQ(bits[1], 1058003044u);
  EXPECT_EQ(bits[2], 1043571191u);
  EXPECT_EQ(bits[3], 1051615146u);
  auto up = m.tensor_data(*m.find_tensor("blk.4.ffn_up.weight"));
  float last[2];
  std::memcpy(last, up.data() + up.size() - 8, 8);
  EXPECT_FLOAT_EQ(last[0], 0.282762736082077f);
  EXPECT_FLOAT_EQ(last[1], 0.10603193938732147f);
}

TEST(GgufShared, EveryVocabularyFileReads) {
  PLUMB_REQUIRE_SHARED(dir, "vocab");
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    auto f = File::open(e.path().string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ((*f)->tensors().size(), 0u) << e.path();
    EXPECT_TRUE((*f)->get_string("tokenizer.ggml.model").ok()) << e.path();
    EXPECT_GT((*f)->get_string_array("tokenizer.ggml.tokens")->size(), 1000u) << e.path();
    ++n;
  }
  EXPECT_GE(n, 6);
}

// Every model in ../shared/models (vocabulary files are read by EveryVocabularyFileReads;
// their 100k-entry JSON dumps would only slow the suite down).
TEST(GgufShared, InspectReadsEverySharedModel) {
  PLUMB_REQUIRE_SHARED(dir, "models");
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    const auto r = test::run_plumb("inspect --json '" + e.path().string() + "'");
    ASSERT_EQ(r.exit_code, 0) << e.path() << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    auto f = File::open(e.path().string());
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(j["tensor_count"], (*f)->tensors().size()) << e.path();
    EXPECT_EQ(j["kv_count"], (*f)->metadata().size()) << e.path();
    EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"].size(), (*f)->get_string_array("tokenizer.ggml.tokens")->size());
    ++n;
  }
  EXPECT_GE(n, 1);
}

TEST(GgufShared, InspectJsonOnStories260K) {
  PLUMB_REQUIRE_SHARED(path, "models/stories260K.gguf");
  const auto r = test::run_plumb("inspect --json '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["tensor_count"], 47);
  EXPECT_EQ(j["kv_count"], 23);
  EXPECT_EQ(j["data_offset"], 14240);
  EXPECT_EQ(j["file_size"], 1054368);
  EXPECT_EQ(j["metadata"]["llama.embedding_length"], 64);
  EXPECT_EQ(j["metadata"]["llama.block_count"], 5);
  EXPECT_EQ(j["metadata"]["llama.feed_forward_length"], 172);
  EXPECT_EQ(j["metadata_types"]["tokenizer.ggml.tokens"], "[string x 512]");
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"].size(), 512u);  // JSON has full arrays
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"][265], "\xE2\x96\x81the");
  ASSERT_EQ(j["tensors"].size(), kStoriesTensors.size());
  for (size_t i = 0; i < kStoriesTensors.size(); ++i) {
    EXPECT_EQ(j["tensors"][i]["name"], kStoriesTensors[i].name);
    EXPECT_EQ(j["tensors"][i]["shape"].get<std::vector<int64_t>>(), kStoriesTensors[i].shape);
    EXPECT_EQ(j["tensors"][i]["type"], "f32");
  }
  EXPECT_EQ(j["totals"]["parameters"], 260032);
  EXPECT_EQ(j["totals"]["by_type"]["f32"]["bytes"], 1040128);
}

TEST(GgufInspect, TextOutputAbbreviatesAndExitCodes) {
  test::TempDir dir;
  const std::string path = dir.file("t.gguf");
  auto r = test::run_plumb("synth --preset tiny --type q8_0 --seed 3 -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("n_vocab 320"), std::string::npos) << r.out;
  r = test::run_plumb("inspect '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GGUF version 3, alignment 32, 21 tensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[\"<unk>\", \"<s>\", \"</s>\", \"<0x00>\", \"<0x01>\", ... (315 more)]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.1.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("q8_0"), std::string::npos);
  r = test::run_plumb("inspect --all '" + path + "'");
  EXPECT_EQ(r.out.find("more)]"), std::string::npos);
  // Missing file: 3; corrupt file: 1 with the reader's message.
  r = test::run_plumb("inspect '" + dir.file("absent.gguf") + "'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("absent.gguf: no such file"), std::string::npos) << r.err;
  std::string bytes = test::read_file(path);
  test::write_file(dir.file("cut.gguf"), bytes.substr(0, bytes.size() / 2));
  r = test::run_plumb("inspect '" + dir.file("cut.gguf") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("past the end of the file (" + std::to_string(bytes.size() / 2) + " bytes)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plumb::gguf
