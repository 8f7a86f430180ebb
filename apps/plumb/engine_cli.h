// Pieces shared by the engine commands (run, chat, bench): model loading with a progress
// bar, the sampling options, Status -> exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "command.h"
#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/sampler.h"

namespace plumb::app {

inline int exit_code_for(const Status& s) {
  return s.code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
}

// A progress bar on stderr while `label` advances, only when stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), enabled_(stderr_is_terminal()) {}
  ~ProgressBar() { done(); }
  bool update(float fraction) {
    if (!enabled_) return true;
    const int pct = static_cast<int>(fraction * 100.0f + 0.5f);
    if (pct == last_) return true;
    last_ = pct;
    constexpr int kWidth = 30;
    const int filled = pct * kWidth / 100;
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled, "##############################",
                 kWidth - filled, "", pct);
    std::fflush(stderr);
    return true;
  }
  void done() {
    if (enabled_ && last_ >= 0) std::fprintf(stderr, "\r\033[K");
    last_ = -1;
    enabled_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  int last_ = -1;
};

// --page-cache auto|keep|drop: what loading does when the OS page cache holds the model file in
// small pages (plumb/page_cache.h).
struct PageCacheCli {
  std::string name = "auto";
  void add(CLI::App& app) {
    app.add_option("--page-cache", name,
                   "what to do when the OS page cache holds the model file in 4 KiB pages (a file just downloaded\n"
                   "or copied): auto re-reads it once from disk so that it is cached in 2 MiB pages, which decode\n"
                   "~25% faster, where the filesystem allows (recent ext4, XFS); keep uses the pages as they are;\n"
                   "drop always re-reads the file")
        ->check(CLI::IsMember({"auto", "keep", "drop"}))
        ->capture_default_str();
  }
  PageCache policy() const {
    if (name == "keep") return PageCache::kKeep;
    if (name == "drop") return PageCache::kDrop;
    return PageCache::kAuto;
  }
};

inline Result<std::unique_ptr<Model>> load_model_with_progress(const std::string& path,
                                                               PageCache page_cache = PageCache::kAuto) {
  ProgressBar bar("loading " + path);
  ModelLoadOptions o;
  o.page_cache = page_cache;
  o.progress = [&bar](float f) { return bar.update(f); };
  auto m = Model::load(path, o);
  bar.done();
  if (m.ok() && page_cache == PageCache::kAuto && (*m)->file().page_cache_reread_bytes() > 0)
    std::fprintf(stderr,
                 "note: read %.0f MB of %s again from disk: the page cache held them in 4 KiB pages, and\n"
                 "      2 MiB pages decode faster; the cache now keeps them so (--page-cache keep skips this)\n",
                 static_cast<double>((*m)->file().page_cache_reread_bytes()) / 1e6, path.c_str());
  return m;
}

// --cache-type f32|f16|q8_0: how the KV cache stores keys and values (ContextParams::kv_type).
struct CacheTypeCli {
  std::string name = "f32";
  void add(CLI::App& app) {
    app.add_option("--cache-type", name,
                   "how the KV cache stores keys and values: f32 (exact), f16 (half the memory, and half the\n"
                   "bytes attention reads at long contexts; llama.cpp's default) or q8_0 (8-bit blocks: about a\n"
                   "quarter of f32's memory, for the longest contexts; needs a head size that is a multiple of 32)")
        ->check(CLI::IsMember({"f32", "f16", "q8_0"}))
        ->capture_default_str();
  }
  TensorType type() const {
    if (name == "f16") return TensorType::kF16;
    if (name == "q8_0") return TensorType::kQ8_0;
    return TensorType::kF32;
  }
};

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --presence-penalty,
// --frequency-penalty, --seed in a "Sampling" group.
struct SamplingCli {
  SamplingParams p;
  std::optional<uint32_t> seed;

  void add(CLI::App& app) {
    const std::string g = "Sampling";
    app.add_option("--temp", p.temperature, "temperature; 0 = greedy (argmax)")->capture_default_str()->group(g);
    app.add_option("--top-k", p.top_k, "keep the k most likely tokens; 0 = off")->capture_default_str()->group(g);
    app.add_option("--top-p", p.top_p, "nucleus sampling: keep the most likely tokens up to this mass; 1 = off")
        ->capture_default_str()
        ->group(g);
    app.add_option("--min-p", p.min_p, "drop tokens less likely than min-p times the best; 0 = off")
        ->capture_default_str()
        ->group(g);
    app.add_option("--repeat-penalty", p.repeat_penalty, "penalise recently seen tokens; 1 = off")
        ->capture_default_str()
        ->group(g);
    app.add_option("--repeat-last-n", p.penalty_last_n, "how many recent tokens the penalties look at; -1 = all")
        ->capture_default_str()
        ->group(g);
    app.add_option("--presence-penalty", p.presence_penalty, "subtract from tokens seen at all; 0 = off")
        ->capture_default_str()
        ->group(g);
    app.add_option("--frequency-penalty", p.frequency_penalty, "subtract per occurrence; 0 = off")
        ->capture_default_str()
        ->group(g);
    app.add_option("--seed", seed, "random seed; the same seed gives the same tokens (default: random)")->group(g);
  }
  // Fills in a random seed when none was given.
  SamplingParams resolve() {
    if (!seed) seed = std::random_device{}();
    p.seed = *seed;
    return p;
  }
};

inline double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace plumb::app
