// model/model_impl.h — what a loaded Model holds.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "model/weights.h"
#include "plumb/gguf.h"
#include "plumb/model.h"

namespace plumb {

struct Model::Impl {
  std::unique_ptr<gguf::File> file;
  ModelHParams hp;
  model::Weights w;
  std::deque<std::vector<float>> owned;  // converted 1-D tensors that w points into
  uint64_t bytes_per_token = 0;
  uint64_t n_params = 0;
  TensorType main_type = TensorType::kF32;
};

}  // namespace plumb
