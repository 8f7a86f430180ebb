// plumb bench: prompt-processing and generation throughput, like llama-bench, plus the decode
// bandwidth as a fraction of the machine's measured read bandwidth.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "command.h"
#include "engine_cli.h"
#include "core/huge_pages.h"
#include "gguf/synth.h"
#include "kernels/bandwidth.h"
#include "kernels/kernels.h"
#include "plumb/model.h"

namespace plumb::app {
namespace {

struct BenchOptions {
  std::string model;
  std::string synthetic;
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int32_t depth = 0;
  CacheTypeCli cache_type;
  int32_t threads = 0;
  int32_t reps = 3;
  bool json = false;
  bool no_bandwidth = false;
  PageCacheCli page_cache;
};

struct Stat {
  double mean = 0, sd = 0;
};
Stat stats(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(v.size() - 1));
  }
  return s;
}

// The weight type for the table: the K-quant mixes by their llama.cpp file-type name (a
// Q4_K_M file is mostly q4_K but reads a fifth of its bytes as q6_K), else the dominant type.
std::string type_label(const Model& model) {
  switch (model.file().get_int("general.file_type").value_or(-1)) {
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 38: return "MXFP4_MOE";  // experts MXFP4, the rest q8_0 (gpt-oss)
    default: return std::string(tensor_type_name(model.main_type()));
  }
}

// "1b:q4_0" -> a cached synthetic file, written on first use.
Result<std::string> synthetic_model(const std::string& spec_text) {
  const size_t colon = spec_text.find(':');
  const std::string preset = spec_text.substr(0, colon);
  const std::string type_name = colon == std::string::npos ? "f16" : spec_text.substr(colon + 1);
  PLUMB_ASSIGN_OR_RETURN(gguf::SynthSpec spec, gguf::synth_preset(preset));
  if (Status s = gguf::set_synth_type(spec, type_name); !s.ok()) return s.with_context("--synthetic");
  std::error_code ec;
  const auto dir = std::filesystem::temp_directory_path(ec) / "plumb-synth";
  std::filesystem::create_directories(dir, ec);
  const std::string path = (dir / (preset + "-" + type_name + ".gguf")).string();
  if (std::filesystem::exists(path, ec)) return path;
  ProgressBar bar("writing " + path);
  const bool tty = stderr_is_terminal();
  if (!tty) std::fprintf(stderr, "plumb bench: writing synthetic model %s (once; reused later)\n", path.c_str());
  PLUMB_RETURN_IF_ERROR(gguf::synth_write(spec, path, [&bar](uint64_t done, uint64_t total) {
    return bar.update(total ? static_cast<float>(static_cast<double>(done) / static_cast<double>(total)) : 1.0f);
  }));
  return path;
}

int run(BenchOptions& o) {
  if (o.model.empty() == o.synthetic.empty()) {
    print_error("bench", "give exactly one of -m MODEL or --synthetic PRESET:TYPE");
    return kExitUsage;
  }
  if (o.n_prompt < 0 || o.n_gen < 0 || o.depth < 0 || o.reps < 1) {
    print_error("bench", "-p, -n and -d must be >= 0 and -r >= 1");
    return kExitUsage;
  }
  std::string path = o.model;
  if (!o.synthetic.empty()) {
    auto p = synthetic_model(o.synthetic);
    if (!p.ok()) {
      print_error("bench", p.status().message());
      return p.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
    }
    path = *p;
  }
  auto model = load_model_with_progress(path, o.page_cache.policy());
  if (!model.ok()) {
    print_error("bench", model.status().message());
    return exit_code_for(model.status());
  }
  const ModelHParams& hp = (*model)->hparams();
  ContextParams cp;
  cp.n_ctx = std::max(16, o.depth + o.n_prompt + o.n_gen + 1);
  cp.n_batch = std::max(1, std::min(std::max(o.n_prompt, o.depth), 512));
  cp.n_threads = o.threads;
  cp.kv_type = o.cache_type.type();
  auto ctx = Context::create(**model, cp);
  if (!ctx.ok()) {
    print_error("bench", ctx.status().message());
    return kExitError;
  }
  Context& c = **ctx;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> any(0, static_cast<int32_t>(hp.n_vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(std::max(o.n_prompt, 1)));
  for (auto& t : prompt) t = any(rng);
  if (o.depth > 0) {
    // As llama-bench -d: the tests run after `depth` tokens already in the context, which every
    // repetition keeps (truncate) rather than evaluates again.
    std::vector<int32_t> fill(static_cast<size_t>(o.depth));
    for (auto& t : fill) t = any(rng);
    if (!o.json) std::fprintf(stderr, "plumb bench: filling the context with %d tokens (-d)\n", o.depth);
    if (Status st = c.eval(fill); !st.ok()) return print_error("bench", st.message()), kExitError;
  }

  using Clock = std::chrono::steady_clock;
  auto run_pp = [&](int n) -> Result<double> {
    c.truncate(o.depth);
    const auto t0 = Clock::now();
    PLUMB_RETURN_IF_ERROR(c.eval(std::span<const int32_t>(prompt.data(), static_cast<size_t>(n))));
    return ms_between(t0, Clock::now());
  };
  // The machine's read bandwidth is sampled while decoding: before each generation run and then
  // after every ~kWindowMs of decode time, so that each stretch of decoding is compared with
  // probe reads taken just before and just after it (see kernels::paired_decode_fraction).  The
  // probe's time is not decode time: tg tok/s counts the tokens' own time only.
  constexpr double kWindowMs = 100;
  std::unique_ptr<kernels::BandwidthProbe> probe;
  std::vector<double> bw;
  std::vector<kernels::DecodeWindow> windows;
  // The context's idle pool threads spin for 200 µs before they sleep; a read started at once
  // would share a core with one of them and come out low.
  auto read_probe = [&] {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    bw.push_back(probe->measure());
    return bw.back();
  };
  auto run_tg = [&](int n, bool measure) -> Result<double> {
    c.truncate(o.depth);
    int32_t tok = prompt[0];
    const bool probing = measure && probe != nullptr;
    kernels::DecodeWindow w;
    if (probing) w.probe_before_gbs = read_probe();
    double decode_ms = 0;
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      PLUMB_RETURN_IF_ERROR(c.eval(std::span<const int32_t>(&tok, 1)));
      const double ms = ms_between(t0, Clock::now());
      tok = prompt[static_cast<size_t>(i + 1) % prompt.size()];
      decode_ms += ms;
      w.tokens += 1;
      w.seconds += ms / 1000;
      if (probing && (w.seconds * 1000 >= kWindowMs || i == n - 1)) {
        w.probe_after_gbs = read_probe();
        windows.push_back(w);
        w = kernels::DecodeWindow{0, 0, w.probe_after_gbs, 0};
      }
    }
    return decode_ms;
  };
  // Warm-up (as llama-bench): one short pass of each, not counted.
  if (o.n_prompt > 0) {
    // A short batch is enough to fault in pages and wake the pool.
    if (auto w = run_pp(std::min(o.n_prompt, 32)); !w.ok()) return print_error("bench", w.status().message()), kExitError;
  }
  if (o.n_gen > 0) {
    if (auto w = run_tg(std::min(o.n_gen, 4), false); !w.ok()) return print_error("bench", w.status().message()), kExitError;
  }
  if (!o.no_bandwidth && o.n_gen > 0) {
    // 256 MiB, eight times the largest L3 of the machines we run on, reads in ~5 ms: small
    // enough to probe every 100 ms of decoding.
    probe = std::make_unique<kernels::BandwidthProbe>(c.n_threads(), size_t{256} << 20);
    if (!probe->ok()) probe.reset();
  }
  std::vector<double> pp, tg;
  for (int r = 0; r < o.reps; ++r) {
    if (o.n_prompt > 0) {
      auto ms = run_pp(o.n_prompt);
      if (!ms.ok()) return print_error("bench", ms.status().message()), kExitError;
      pp.push_back(o.n_prompt * 1000.0 / *ms);
    }
    if (o.n_gen > 0) {
      auto ms = run_tg(o.n_gen, true);
      if (!ms.ok()) return print_error("bench", ms.status().message()), kExitError;
      tg.push_back(o.n_gen * 1000.0 / *ms);
    }
  }
  const Stat pps = stats(pp), tgs = stats(tg);
  const double bytes = static_cast<double>((*model)->bytes_per_token());
  const double decode_gbs = tgs.mean * bytes / 1e9;
  const Stat bws = stats(bw);
  const double machine_gbs = bws.mean;
  const double machine_best = bw.empty() ? 0.0 : *std::max_element(bw.begin(), bw.end());
  const kernels::PairedFraction paired = kernels::paired_decode_fraction(windows, bytes);
  const double fraction = paired.mean;
  const std::string type = type_label(**model);
  const std::string name = !o.synthetic.empty() ? "synthetic " + o.synthetic : std::filesystem::path(path).filename().string();
  const double size_gib = static_cast<double>((*model)->file().file_size()) / (1024.0 * 1024 * 1024);
  const double params_b = static_cast<double>((*model)->n_params()) / 1e9;
  // How much of the file and the probe are mapped with 2 MiB pages (-1: unknown).
  const auto contents = (*model)->file().contents();
  const int64_t huge = huge_mapped_bytes(contents.data(), contents.size());
  const double weights_huge = huge >= 0 && !contents.empty() ? std::min(1.0, static_cast<double>(huge) / contents.size()) : -1;
  const int64_t probe_huge_bytes = probe ? probe->huge_page_bytes() : -1;
  const double probe_huge = probe && probe_huge_bytes >= 0 ? static_cast<double>(probe_huge_bytes) / probe->bytes() : -1;

  if (o.json) {
    nlohmann::json j;
    j["model"] = name;
    j["path"] = path;
    j["type"] = type;
    j["size_bytes"] = (*model)->file().file_size();
    j["params"] = (*model)->n_params();
    j["threads"] = c.n_threads();
    j["isa"] = kernels::active_isa();
    j["reps"] = o.reps;
    j["depth"] = o.depth;
    j["cache_type"] = o.cache_type.name;
    if (!pp.empty()) j["pp"] = {{"n", o.n_prompt}, {"tok_s_mean", pps.mean}, {"tok_s_sd", pps.sd}, {"samples", pp}};
    if (!tg.empty()) j["tg"] = {{"n", o.n_gen}, {"tok_s_mean", tgs.mean}, {"tok_s_sd", tgs.sd}, {"samples", tg}};
    j["bytes_per_token"] = (*model)->bytes_per_token();
    j["decode_gb_s"] = decode_gbs;
    j["machine_read_gb_s"] = machine_gbs;
    j["machine_read_gb_s_sd"] = bws.sd;
    j["machine_read_gb_s_best"] = machine_best;
    j["machine_read_samples"] = bw;
    j["decode_bandwidth_fraction"] = fraction;
    j["decode_bandwidth_fraction_sd"] = paired.sd;
    j["decode_windows"] = paired.n;
    if (weights_huge >= 0) j["weights_2mib_page_fraction"] = weights_huge;
    if (probe_huge >= 0) j["probe_2mib_page_fraction"] = probe_huge;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("| %-28s | %9s | %7s | %-9s | %7s | %-6s | %14s | %20s |\n", "model", "size", "params", "type", "threads",
              "isa", "test", "t/s");
  std::printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", std::string(28, '-').c_str(), std::string(9, '-').c_str(),
              std::string(7, '-').c_str(), std::string(9, '-').c_str(), std::string(7, '-').c_str(),
              std::string(6, '-').c_str(), std::string(14, '-').c_str(), std::string(20, '-').c_str());
  char size_s[32], params_s[32];
  if (size_gib >= 1) std::snprintf(size_s, sizeof size_s, "%.2f GiB", size_gib);
  else std::snprintf(size_s, sizeof size_s, "%.2f MiB", size_gib * 1024);
  if (params_b >= 1) std::snprintf(params_s, sizeof params_s, "%.2f B", params_b);
  else std::snprintf(params_s, sizeof params_s, "%.2f M", params_b * 1000);
  auto row = [&](const std::string& test, const Stat& s) {
    std::printf("| %-28s | %9s | %7s | %-9s | %7d | %-6s | %14s | %11.2f ± %6.2f |\n", name.c_str(), size_s, params_s,
                type.c_str(), c.n_threads(), kernels::active_isa(), test.c_str(), s.mean, s.sd);
  };
  const std::string at = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";
  if (!pp.empty()) row("pp" + std::to_string(o.n_prompt) + at, pps);
  if (!tg.empty()) row("tg" + std::to_string(o.n_gen) + at, tgs);
  if (!tg.empty()) {
    std::printf("\ndecode reads %.1f MB of weights per token: %.2f GB/s", bytes / 1e6, decode_gbs);
    if (paired.n > 0)
      std::printf(" = %.0f%% ± %.0f%% of the machine's read bandwidth\n(probed every %.0f ms of decoding, %d windows, each compared with the probe reads around it:\n"
                  " %.2f ± %.2f GB/s, best %.2f, %d threads)\n",
                  fraction * 100, paired.sd * 100, kWindowMs, paired.n, machine_gbs, bws.sd, machine_best, c.n_threads());
    else
      std::printf("\n");
  }
  if (weights_huge >= 0) {
    std::printf("2 MiB pages: %.0f%% of the model file", weights_huge * 100);
    if (probe_huge >= 0) std::printf(", %.0f%% of the probe's buffer", probe_huge * 100);
    std::printf("\n");
    if (weights_huge < 0.5)
      std::printf("(the page cache holds the file in 4 KiB pages, which decode slower; --page-cache drop re-reads\n"
                  " it, which gives 2 MiB pages where the filesystem has large folios)\n");
  }
  return kExitOk;
}

const CommandRegistration kRegistration(
    "bench", 22, "Measure prompt processing and generation speed (tok/s) and decode bandwidth",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<BenchOptions>();
      sub.add_option("-m,--model", o->model, "model file (GGUF)");
      sub.add_option("--synthetic", o->synthetic,
                     "a synthetic model PRESET:TYPE (presets tiny, small, 1b; types f32, f16, bf16, q8_0, q4_0, and for "
                     "small and 1b also q4_K, q5_K, q6_K and the llama.cpp mixes q4_K_M, q5_K_M), "
                     "written once to $TMPDIR/plumb-synth/ and reused");
      sub.add_option("-p,--n-prompt", o->n_prompt, "prompt tokens processed in one batch (pp test); 0 = skip")
          ->capture_default_str();
      sub.add_option("-n,--n-gen", o->n_gen, "tokens generated one at a time (tg test); 0 = skip")
          ->capture_default_str();
      sub.add_option("-d,--n-depth", o->depth,
                     "tokens already in the context when each test runs (as llama-bench -d): attention then reads\n"
                     "their keys and values too, which the bandwidth figure (weights only) does not count")
          ->capture_default_str();
      o->cache_type.add(sub);
      sub.add_option("-t,--threads", o->threads, "threads (default: all cores)");
      sub.add_option("-r,--repetitions", o->reps, "repetitions of each test (mean ± sd)")->capture_default_str();
      sub.add_flag("--no-bandwidth", o->no_bandwidth, "skip the memory-bandwidth probe");
      o->page_cache.add(sub);
      sub.add_flag_callback("--drop-cache", [o] { o->page_cache.name = "drop"; }, "the same as --page-cache drop");
      sub.add_flag("--json", o->json, "print the results as JSON");
      sub.footer(
          "pp = prompt tokens/s (one batched pass), tg = generated tokens/s (one token per pass), mean ± sd over -r\n"
          "repetitions after a warm-up, like llama-bench.  The decode bandwidth is weight bytes read per token times\n"
          "tg tok/s, shown as a fraction of the machine's read bandwidth: a 256 MiB buffer read with the same threads\n"
          "before each generation run and after every 100 ms of decoding.  On a shared machine the bandwidth changes\n"
          "from second to second, so each 100 ms of decoding is compared with the probe reads just before and after\n"
          "it, and the fraction is the mean over those windows (± their sd), weighted by decode time.\n\n"
          "Examples:\n"
          "  plumb bench --synthetic 1b:q4_0 -p 512 -n 128 -t 2 -r 3\n"
          "  plumb bench --synthetic 1b:q4_K_M -p 512 -n 128 -t 2 -r 3\n"
          "  plumb bench -m model.gguf -p 512 -n 128\n"
          "  plumb bench -m model.gguf -p 512 -n 128 -d 4096     (the same after 4096 tokens of context)\n"
          "  plumb bench --synthetic small:q8_0 -p 64 -n 32 -r 1 --json");
      return [o] { return run(*o); };
    });

}  // namespace
}  // namespace plumb::app
