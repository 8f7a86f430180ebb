// Generation through the real engine with the watermark stage, scored on the generated ids:
// the trained stories260K model (../shared) and a synthetic model written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "gguf/synth.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "plumb/tokenizer.h"
#include "plumb/watermark.h"
#include "support/test_support.h"

namespace plumb {
namespace {

struct Outcome {
  int detected = 0;
  int runs = 0;
  double min_z = 1e9, max_z = -1e9;
  // Selective detection (plumb detect --min-entropy): tokens the model predicted with
  // entropy below kMinEntropy are not counted.
  int selective_detected = 0;
  double selective_min_z = 1e9, selective_max_z = -1e9;
};

constexpr double kMinEntropy = 0.5;  // nats; what docs/watermark.md suggests

// `runs` generations of 200 tokens from BOS with multinomial sampling (temperature 1, no
// truncation), each scored by the detector for `cfg`; with `watermark` false the same
// sampling runs without the stage.
Outcome generate_and_score(const std::string& model_path, const WatermarkConfig& cfg, bool watermark, int runs) {
  Outcome out;
  auto model = Model::load(model_path);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return out;
  auto tok = Tokenizer::from_gguf((*model)->file());
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  if (!tok.ok()) return out;
  ContextParams cp;
  cp.n_ctx = 256;
  cp.n_threads = 1;
  auto ctx = Context::create(**model, cp);
  EXPECT_TRUE(ctx.ok()) << ctx.status().to_string();
  if (!ctx.ok()) return out;
  auto scoring_ctx = Context::create(**model, cp);  // the detector's own pass over the text
  EXPECT_TRUE(scoring_ctx.ok());
  if (!scoring_ctx.ok()) return out;
  const int32_t vocab = (*tok)->n_vocab();
  auto stage = make_watermark_stage(cfg, vocab);
  EXPECT_TRUE(stage.ok());
  DetectOptions dopts;
  dopts.bos_id = (*tok)->bos();
  auto det = Detector::create(cfg, vocab, dopts);
  EXPECT_TRUE(det.ok());
  for (int r = 0; r < runs; ++r) {
    SamplingParams sp;
    sp.temperature = 1.0f;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    sp.seed = 1000 + static_cast<uint32_t>(r);
    auto chain = make_sampler_chain(sp);
    if (watermark) chain->insert(logit_stage_index(sp), (*stage)->clone());
    (*ctx)->truncate(0);
    GenerateOptions go;
    go.n_predict = 200;
    go.stop_at_eog = false;
    const std::vector<TokenId> prompt = {(*tok)->bos()};
    auto gen = generate(**ctx, tok->get(), *chain, prompt, go);
    EXPECT_TRUE(gen.ok()) << gen.status().to_string();
    if (!gen.ok()) return out;
    EXPECT_EQ(gen->tokens.size(), 200u);
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), gen->tokens.begin(), gen->tokens.end());
    const auto res = det->detect(ids);
    EXPECT_TRUE(res.scored);
    ++out.runs;
    out.detected += res.detected;
    out.min_z = std::min(out.min_z, res.z);
    out.max_z = std::max(out.max_z, res.z);
    auto h = next_token_entropies(**scoring_ctx, gen->tokens, (*tok)->bos());
    EXPECT_TRUE(h.ok()) << h.status().to_string();
    if (!h.ok()) return out;
    std::vector<uint8_t> exclude(ids.size(), 0);
    for (size_t i = 0; i < h->size(); ++i) exclude[i + 1] = (*h)[i] < kMinEntropy;
    const auto sel = det->detect(ids, exclude);
    EXPECT_TRUE(sel.scored) << sel.message;
    out.selective_detected += sel.detected;
    out.selective_min_z = std::min(out.selective_min_z, sel.z);
    out.selective_max_z = std::max(out.selective_max_z, sel.z);
  }
  return out;
}

// At least 95% of marked generations detected, no unmarked one, by the detector's default
// count (selective = false) or with --min-entropy's selection (selective = true).  With
// `floor` < 95, the default count is only held to that floor (its rate is printed).
void check_model(const std::string& path, WatermarkScheme scheme, int runs, const std::string& label,
                 bool selective, int floor = 95) {
  WatermarkConfig cfg;
  cfg.scheme = scheme;
  cfg.key = 4242;
  cfg.delta = 2.0;
  cfg.gamma = 0.25;
  const Outcome marked = generate_and_score(path, cfg, true, runs);
  const Outcome plain = generate_and_score(path, cfg, false, runs);
  std::printf("%s, %s: marked %d/%d detected (z %.2f..%.2f); unmarked %d/%d detected (z %.2f..%.2f)\n",
              label.c_str(), std::string(watermark_scheme_name(scheme)).c_str(), marked.detected, marked.runs,
              marked.min_z, marked.max_z, plain.detected, plain.runs, plain.min_z, plain.max_z);
  std::printf("  --min-entropy %.1f: marked %d/%d detected (z %.2f..%.2f); unmarked %d/%d detected (z %.2f..%.2f)\n",
              kMinEntropy, marked.selective_detected, marked.runs, marked.selective_min_z, marked.selective_max_z,
              plain.selective_detected, plain.runs, plain.selective_min_z, plain.selective_max_z);
  ASSERT_EQ(marked.runs, runs);
  EXPECT_GE((selective ? marked.selective_detected : marked.detected) * 100, (selective ? 95 : floor) * runs);
  EXPECT_EQ(plain.detected, 0);
  EXPECT_LT(plain.max_z, 4.0);
  EXPECT_EQ(plain.selective_detected, 0);
  EXPECT_LT(plain.selective_max_z, 4.0);
}

TEST(Generation, Stories260KIsDetectedWithDelta2) {
  PLUMB_REQUIRE_SHARED(path, "models/stories260K.gguf");
  // selfhash under the default count reaches ~80-85% on this 512-token model (each (seed,
  // token) pair once; docs/watermark.md); selecting the tokens the model was unsure of
  // restores the 95% target while unmarked text stays calibrated.
  check_model(path, WatermarkScheme::kSelfHash, 40, "stories260K", /*selective=*/true, /*floor=*/65);
  check_model(path, WatermarkScheme::kLeftHash, 20, "stories260K", /*selective=*/false);
}

TEST(Generation, SyntheticModelIsDetected) {
  test::TempDir dir;
  auto spec = gguf::synth_preset("tiny");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  spec->n_vocab = 1000;
  spec->seed = 7;
  const std::string path = dir.file("synth.gguf");
  ASSERT_TRUE(gguf::synth_write(*spec, path).ok());
  // Random weights give a nearly flat distribution over 1,000 tokens, where selfhash's 41
  // checked candidates hold little of the mass; lefthash biases every green token.
  check_model(path, WatermarkScheme::kLeftHash, 20, "synthetic tiny", /*selective=*/false);
}

}  // namespace
}  // namespace plumb
