// next_token_entropies: the model's uncertainty before each token of a text.
#include <algorithm>
#include <cmath>
#include <limits>

#include "plumb/generate.h"
#include "plumb/model.h"

namespace plumb {

namespace {
// Tokens per eval() call: all_logits keeps one row of logits per token (n_vocab floats).
constexpr size_t kChunkTokens = 64;
}  // namespace

double logits_entropy(std::span<const float> logits) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, static_cast<double>(l));
  // H = log Z - sum p l, with everything relative to the max for range.
  double z = 0, weighted = 0;
  for (float l : logits) {
    const double d = static_cast<double>(l) - mx;
    const double e = std::exp(d);
    z += e;
    weighted += e * d;
  }
  return std::log(z) - weighted / z;
}

Result<std::vector<float>> next_token_entropies(Context& ctx, std::span<const TokenId> ids, TokenId bos) {
  std::vector<float> out(ids.size(), std::numeric_limits<float>::infinity());
  if (ids.empty()) return out;
  const int64_t n_vocab = ctx.model().hparams().n_vocab;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= n_vocab)
      return Status::InvalidArgument("token id " + std::to_string(ids[i]) + " (position " + std::to_string(i) +
                                     ") is outside the model's vocabulary of " + std::to_string(n_vocab) + " tokens");
  // seq[k] is followed by ids[k + shift]: its logits give out[k + shift].
  std::vector<TokenId> seq;
  seq.reserve(ids.size());
  if (bos >= 0) seq.push_back(bos);
  seq.insert(seq.end(), ids.begin(), ids.end() - 1);
  const size_t shift = bos >= 0 ? 0 : 1;
  const int32_t n_keep = bos >= 0 ? 1 : 0;
  if (ctx.n_ctx() <= n_keep + 1)
    return Status::InvalidArgument("next_token_entropies: the context (" + std::to_string(ctx.n_ctx()) +
                                   " tokens) is too small");
  ctx.truncate(0);
  for (size_t pos = 0; pos < seq.size();) {
    if (ctx.n_past() >= ctx.n_ctx()) PLUMB_RETURN_IF_ERROR(ctx.shift(n_keep, (ctx.n_past() - n_keep) / 2));
    const size_t room = static_cast<size_t>(ctx.n_ctx() - ctx.n_past());
    const size_t n = std::min({room, seq.size() - pos, kChunkTokens});
    PLUMB_RETURN_IF_ERROR(ctx.eval(std::span<const TokenId>(seq).subspan(pos, n), /*all_logits=*/true));
    for (size_t k = 0; k < n; ++k) out[pos + k + shift] = static_cast<float>(logits_entropy(ctx.logits_at(k)));
    pos += n;
  }
  return out;
}

}  // namespace plumb
