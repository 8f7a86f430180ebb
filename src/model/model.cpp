// Model loading: architecture, hyper-parameters, tensor views, page-in with progress.
#include <cmath>
#include <map>

#include "model/arch/arch.h"
#include "model/hparams.h"
#include "model/loader.h"
#include "model/model_impl.h"

namespace plumb {

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ModelHParams& Model::hparams() const { return impl_->hp; }
const gguf::File& Model::file() const { return *impl_->file; }
uint64_t Model::bytes_per_token() const { return impl_->bytes_per_token; }
uint64_t Model::n_params() const { return impl_->n_params; }
TensorType Model::main_type() const { return impl_->main_type; }

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelLoadOptions& opts) {
  gguf::OpenOptions fo;
  fo.page_cache = opts.page_cache;
  PLUMB_ASSIGN_OR_RETURN(auto file, gguf::File::open(path, fo));
  return from_file(std::move(file), opts);
}

namespace {

// Reads one byte per page of every tensor so that the file is paged in now (with a progress
// report) rather than during the first tokens.  Returns Cancelled when progress says stop.
Status page_in(const gguf::File& f, const ModelLoadOptions& opts) {
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.n_bytes;
  if (total == 0) return Status::Ok();
  uint64_t done = 0, next_report = 0;
  volatile uint8_t sink = 0;
  constexpr uint64_t kPage = 4096;
  for (const auto& t : f.tensors()) {
    auto bytes = f.tensor_data(t);
    for (uint64_t off = 0; off < bytes.size(); off += kPage) {
      sink = sink + bytes[off];
      done += std::min<uint64_t>(kPage, bytes.size() - off);
      if (opts.progress && done >= next_report) {
        if (!opts.progress(static_cast<float>(static_cast<double>(done) / static_cast<double>(total))))
          return Status::Cancelled(f.path() + ": loading cancelled");
        next_report = done + total / 100;
      }
    }
  }
  if (opts.progress && !opts.progress(1.0f)) return Status::Cancelled(f.path() + ": loading cancelled");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file, const ModelLoadOptions& opts) {
  auto impl = std::make_unique<Impl>();
  const gguf::File& f = *file;
  if (f.find("general.architecture") == nullptr)
    return Status::NotFound(f.path() + ": metadata key 'general.architecture' is missing");
  PLUMB_ASSIGN_OR_RETURN(std::string arch_name, f.get_string("general.architecture"));
  const model::ArchSpec* arch = model::find_arch(arch_name);
  if (arch == nullptr)
    return Status::Unsupported(f.path() + ": architecture '" + arch_name + "' (general.architecture) is not supported; " +
                               "plumb runs: " + model::known_archs());
  PLUMB_ASSIGN_OR_RETURN(impl->hp, model::read_hparams(f, *arch));
  ModelHParams& hp = impl->hp;

  model::TensorLoader tl(f);
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return Status::NotFound(f.path() + ": tensor 'token_embd.weight' is missing");
  if (embd->shape.size() < 2 || embd->shape[1] < 1)
    return Status::Corrupt(f.path() + ": tensor 'token_embd.weight' must have 2 dimensions [n_embd, n_vocab]");
  hp.n_vocab = embd->shape[1];
  if (const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
      toks != nullptr && toks->type == gguf::ValueType::kArray &&
      static_cast<int64_t>(toks->array.size()) != hp.n_vocab)
    return Status::Corrupt(f.path() + ": tokenizer.ggml.tokens has " + std::to_string(toks->array.size()) +
                           " tokens but token_embd.weight has " + std::to_string(hp.n_vocab) + " rows");

  model::Weights& w = impl->w;
  PLUMB_ASSIGN_OR_RETURN(w.tok_embd, tl.matrix("token_embd.weight", hp.n_embd, hp.n_vocab));
  PLUMB_ASSIGN_OR_RETURN(w.output_norm, tl.vector("output_norm.weight", hp.n_embd));
  if (tl.has("output.weight")) {
    PLUMB_ASSIGN_OR_RETURN(w.output, tl.matrix("output.weight", hp.n_embd, hp.n_vocab));
  } else {
    w.output = w.tok_embd;
    hp.tied_output = true;
  }
  if (tl.has("rope_freqs.weight")) {
    PLUMB_ASSIGN_OR_RETURN(w.rope_freqs, tl.vector("rope_freqs.weight", hp.n_rot / 2));
    hp.has_rope_freqs = true;
  }
  if (tl.has("rope_factors_long.weight") || tl.has("rope_factors_short.weight")) {
    PLUMB_ASSIGN_OR_RETURN(w.rope_long, tl.vector("rope_factors_long.weight", hp.n_rot / 2));
    PLUMB_ASSIGN_OR_RETURN(w.rope_short, tl.vector("rope_factors_short.weight", hp.n_rot / 2));
    for (const model::Vector* v : {&w.rope_long, &w.rope_short})
      for (int64_t i = 0; i < v->n; ++i)
        if (!(v->data[i] > 0) || !std::isfinite(v->data[i]))
          return Status::Corrupt(f.path() + ": tensor '" +
                                 (v == &w.rope_long ? "rope_factors_long.weight" : "rope_factors_short.weight") +
                                 "' has a factor that is not a finite number > 0 at index " + std::to_string(i));
    hp.has_long_rope = true;
  }
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int l = 0; l < hp.n_layer; ++l) PLUMB_RETURN_IF_ERROR(arch->load_layer(tl, hp, l, w.layers[l]));

  // Bytes one decoded token reads, and the dominant type.
  std::map<TensorType, uint64_t> bytes_by_type;
  auto count = [&](const model::Matrix& m) {
    impl->bytes_per_token += m.n_bytes;
    impl->n_params += static_cast<uint64_t>(m.n_rows * m.n_cols);
    bytes_by_type[m.type] += m.n_bytes;
  };
  for (const auto& L : w.layers) {
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.ffn_gate_inp,
                          &L.ffn_gate_shexp, &L.ffn_up_shexp, &L.ffn_down_shexp})
      count(*m);
    // A token reads only the experts it is routed to; every expert counts as parameters.
    for (const auto* s : {&L.ffn_gate_exps, &L.ffn_up_exps, &L.ffn_down_exps}) {
      if (!*s) continue;
      impl->bytes_per_token += s->stride * static_cast<uint64_t>(hp.n_expert_used);
      impl->n_params += static_cast<uint64_t>(s->first.n_rows * s->first.n_cols * s->n);
      bytes_by_type[s->first.type] += s->stride * static_cast<uint64_t>(hp.n_expert_used);
    }
  }
  count(w.output);
  impl->bytes_per_token += w.tok_embd.n_rows ? w.tok_embd.n_bytes / static_cast<uint64_t>(w.tok_embd.n_rows) : 0;
  if (!hp.tied_output) impl->n_params += static_cast<uint64_t>(w.tok_embd.n_rows * w.tok_embd.n_cols);
  uint64_t best = 0;
  for (auto [t, b] : bytes_by_type)
    if (b > best) best = b, impl->main_type = t;

  PLUMB_RETURN_IF_ERROR(page_in(f, opts));
  impl->owned = std::move(tl.owned());  // deque move keeps element addresses
  impl->file = std::move(file);
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

}  // namespace plumb
