// Model loading (architecture, hyper-parameters, tensor shapes and types) on arbitrary bytes,
// then one forward step when the model loads: must never crash, only return errors.
#include <cstddef>
#include <cstdint>

#include "plumb/gguf.h"
#include "plumb/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = plumb::gguf::File::from_buffer(data, size, "fuzz.gguf");
  if (!file.ok()) return 0;
  auto model = plumb::Model::from_file(std::move(*file));
  if (!model.ok()) return 0;
  // Bound the work a well-formed but large model could ask for.
  if ((*model)->hparams().n_embd * (*model)->hparams().n_layer > (1 << 16)) return 0;
  auto ctx = plumb::Context::create(**model, {.n_ctx = 4, .n_batch = 2, .n_threads = 1});
  if (!ctx.ok()) return 0;
  const int32_t toks[2] = {0, 1};
  (void)(*ctx)->eval(std::span<const int32_t>(toks, (*model)->hparams().n_vocab > 1 ? 2 : 1));
  return 0;
}
