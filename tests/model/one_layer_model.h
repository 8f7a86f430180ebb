// A test fixture holding a 1-layer synthetic llama model (the default ModelShape otherwise):
// with one layer, a context that went through a shift holds exactly what a fresh context of
// the kept tokens holds, so shifted results can be checked exactly.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "model/model_fixture.h"
#include "plumb/model.h"
#include "support/test_support.h"

namespace plumb::test {

class OneLayerModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shape_.n_layer = 1;
    ASSERT_TRUE(write_model(shape_, dir_.file("m.gguf")).ok());
    auto m = Model::load(dir_.file("m.gguf"));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = std::move(*m);
  }
  // A single-threaded context of n_ctx positions, 16 tokens per batch.
  std::unique_ptr<Context> context(int32_t n_ctx) {
    auto c = Context::create(*model_, {.n_ctx = n_ctx, .n_batch = 16, .n_threads = 1});
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(*c) : nullptr;
  }
  ModelShape shape_;
  TempDir dir_;
  std::unique_ptr<Model> model_;
};

}  // namespace plumb::test
