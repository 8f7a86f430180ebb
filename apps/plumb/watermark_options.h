// Watermark command-line options shared by `plumb run` (generation) and `plumb detect`, so the
// two spell and check them the same way.
//
//   WatermarkCliOptions wm;
//   add_watermark_options(*sub, wm, /*generation=*/true);   // in a command's setup
//   ...
//   if (wm.enabled()) { auto cfg = wm.to_config(); ... make_watermark_stage(*cfg, n_vocab) }
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "plumb/watermark.h"

namespace plumb::app {

struct WatermarkCliOptions {
  std::optional<int64_t> key;  // set by --watermark / --wm-key
  double gamma = 0.25;
  double delta = 2.0;
  std::string scheme = "selfhash";
  int32_t vocab_size = 0;

  bool enabled() const { return key.has_value(); }
  // The config, or an error naming the bad option.
  Result<WatermarkConfig> to_config() const {
    WatermarkConfig c;
    c.key = key.value_or(kDefaultWatermarkKey);
    c.gamma = gamma;
    c.delta = delta;
    c.vocab_size = vocab_size;
    auto s = parse_watermark_scheme(scheme);
    if (!s.ok()) return Status::InvalidArgument("--wm-scheme: " + s.status().message());
    c.scheme = *s;
    if (!(gamma > 0 && gamma < 1)) return Status::InvalidArgument("--wm-gamma: expected 0 < gamma < 1, found " + std::to_string(gamma));
    if (vocab_size < 0) return Status::InvalidArgument("--wm-vocab-size: expected a positive size");
    return c;
  }
};

// Adds --watermark/--wm-key KEY, --wm-gamma, --wm-scheme, --wm-vocab-size and, when
// `generation`, --wm-delta, to `app` in a "Watermark" group.
inline void add_watermark_options(CLI::App& app, WatermarkCliOptions& o, bool generation) {
  const std::string group = "Watermark";
  app.add_option("--watermark,--wm-key", o.key,
                 "secret integer key (signed 64-bit). Pick your own: the reference's default 15485863 is public, "
                 "so anyone could detect or forge marks made with it")
      ->group(group);
  app.add_option("--wm-gamma", o.gamma, "green-list fraction of the vocabulary")->capture_default_str()->group(group);
  if (generation)
    app.add_option("--wm-delta", o.delta, "logit bias added to green tokens (larger: easier to detect, text degrades)")
        ->capture_default_str()
        ->group(group);
  app.add_option("--wm-scheme", o.scheme,
                 "seeding scheme: " + watermark_scheme_list() +
                     " (hash/hash4 are plumb's own fast schemes, not readable by the reference code)")
      ->capture_default_str()
      ->group(group);
  app.add_option("--wm-vocab-size", o.vocab_size,
                 "vocabulary size the green lists partition (default: the tokenizer's size; must match generation)")
      ->group(group);
}

}  // namespace plumb::app
