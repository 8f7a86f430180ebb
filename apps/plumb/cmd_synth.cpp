// `plumb synth`: writes a llama-family GGUF model with random weights (see gguf/synth.h).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "command.h"
#include "gguf/synth.h"
#include "plumb/gguf.h"

namespace plumb::app {
namespace {

struct SynthOptions {
  std::string arch = "llama";
  std::string preset = "tiny";
  std::string type = "f32";
  std::string vocab;
  bool tied = false;
  int head_dim = 0;
  int sliding_window = 0;
  int layers = 0;
  bool long_rope = false;
  int context = 0;
  float yarn = 0;
  int experts = 0, experts_used = 0, expert_ff = 0, shared_expert_ff = 0;
  uint64_t seed = 0;
  std::string out;
};

int run_synth(const SynthOptions& o) {
  auto spec = gguf::synth_preset(o.preset);
  if (!spec.ok()) {
    print_error("synth", spec.status().message());
    return kExitUsage;
  }
  if (Status st = gguf::set_synth_type(*spec, o.type); !st.ok()) {
    print_error("synth", "--type: " + st.message());
    return kExitUsage;
  }
  spec->arch = o.arch;
  spec->tied_output = o.tied;
  spec->head_dim = o.head_dim;
  spec->sliding_window = o.sliding_window;
  if (o.layers > 0) spec->n_layer = o.layers;
  spec->long_rope = o.long_rope;
  if (o.context > 0) spec->n_ctx = o.context;
  spec->yarn_factor = o.yarn;
  spec->n_expert = o.experts;
  spec->n_expert_used = o.experts_used;
  spec->n_ff_exp = o.expert_ff;
  spec->n_ff_shexp = o.shared_expert_ff;
  // Gemma 3 files rotate their global layers with base 1e6 (the sliding-window layers keep
  // llama.cpp's default 10000), so a synthetic one does too.
  if (o.arch == "gemma3") spec->rope_freq_base = 1000000.0f;
  spec->seed = o.seed;
  spec->vocab_path = o.vocab;
  spec->name = "plumb-synth-" + o.arch + "-" + o.preset;

  const bool show_progress = stderr_is_terminal();
  const auto t0 = std::chrono::steady_clock::now();
  int last_pct = -1;
  auto progress = [&](uint64_t done, uint64_t total) {
    const int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (show_progress && pct != last_pct) {
      last_pct = pct;
      std::fprintf(stderr, "\rwriting %s: %3d%% (%" PRIu64 " of %" PRIu64 " MiB)", o.out.c_str(), pct, done >> 20, total >> 20);
      std::fflush(stderr);
    }
    return true;
  };
  Status s = gguf::synth_write(*spec, o.out, progress);
  if (show_progress && last_pct >= 0) std::fprintf(stderr, "\n");
  if (!s.ok()) {
    print_error("synth", s.message());
    if (s.code() == StatusCode::kNotFound) return kExitNotFound;
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto f = gguf::File::open(o.out);
  if (!f.ok()) {
    print_error("synth", "the written file does not read back: " + f.status().message());
    return kExitError;
  }
  uint64_t params = 0;
  for (const auto& t : (*f)->tensors()) params += static_cast<uint64_t>(t.n_elements());
  const int64_t n_vocab = (*f)->get_int(o.arch + ".vocab_size").value_or(0);
  std::printf("wrote %s: %s %s, %s, %d layers, n_embd %d, n_vocab %" PRId64 "%s, %.2f M params, %.1f MiB in %.2f s\n",
              o.out.c_str(), o.arch.c_str(), o.preset.c_str(), o.type.c_str(), spec->n_layer,
              spec->n_embd, n_vocab, o.tied ? ", tied output" : "", static_cast<double>(params) / 1e6,
              static_cast<double>((*f)->file_size()) / (1 << 20), secs);
  return kExitOk;
}

const CommandRegistration kRegistration(
    "synth", 11, "Write a llama-family GGUF model with random weights (for tests and benchmarks)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<SynthOptions>();
      sub.add_option("--arch", o->arch, "Architecture: its metadata key prefix and tensor set")
          ->check(CLI::IsMember({"llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3", "gemma", "gemma2", "gemma3",
                                 "smollm3", "olmo2", "granite", "granitemoe", "command-r", "cohere2", "ernie4_5",
                                 "mistral3", "gpt-oss"}))
          ->capture_default_str();
      sub.add_option("--preset", o->preset, "Model shape: tiny (n_embd 64, 2 layers), small (n_embd 256, 4 layers), "
                                            "1b (Llama-3.2-1B shape: n_embd 2048, 16 layers, vocab 128256)")
          ->check(CLI::IsMember({"tiny", "small", "1b"}))
          ->capture_default_str();
      sub.add_option("--type", o->type,
                     "Type of token_embd, output and the weight matrices (norms stay f32); q4_K_M and q5_K_M write "
                     "the mix of llama.cpp's file types of those names (output, and attn_v / ffn_down of some "
                     "layers, in q6_K; like llama.cpp, tensors whose rows are not a multiple of 256 fall back to "
                     "q5_0 / q5_1 / q8_0). Plain K-quant types need n_embd and n_ff multiples of 256 (the small "
                     "and 1b presets); q4_1, q5_0 and q5_1 are ggml's older 32-element formats; mxfp4_moe "
                     "(with experts) is llama.cpp's MXFP4_MOE, as gpt-oss files come: experts in MXFP4, the "
                     "rest q8_0")
          ->check(CLI::IsMember(gguf::synth_type_names(), CLI::ignore_case))
          ->capture_default_str();
      sub.add_option("--vocab", o->vocab, "Copy the tokenizer (every tokenizer.* key) from this GGUF file instead of "
                                          "generating a small SentencePiece-style vocabulary");
      sub.add_option("--head-dim", o->head_dim,
                     "Dimension of each attention head, written as attention.key_length (0: n_embd / heads). "
                     "Qwen3 uses 128 whatever n_embd is, so its queries are wider than the embedding")
          ->check(CLI::Range(0, 4096))
          ->capture_default_str();
      sub.add_option("--sliding-window", o->sliding_window,
                     "Attention window in tokens, written as attention.sliding_window (0: none; gemma2 then "
                     "defaults to 4096, gpt-oss to 128). gemma2 and gpt-oss apply it in every other layer, gemma3 in "
                     "five of every six")
          ->check(CLI::Range(0, 1 << 20))
          ->capture_default_str();
      sub.add_option("--layers", o->layers, "Number of layers instead of the preset's (0: the preset's)")
          ->check(CLI::Range(0, 1024))
          ->capture_default_str();
      sub.add_option("--context", o->context, "Training context length instead of the preset's (0: the preset's)")
          ->check(CLI::Range(0, 1 << 24))
          ->capture_default_str();
      sub.add_option("--yarn", o->yarn,
                     "YaRN RoPE scaling by this factor (>= 1), with an original context of n_ctx / factor, as "
                     "long-context Qwen files have it (0: none); mistral3 files also get Ministral 3's YaRN betas "
                     "(32, 1) and log multiplier (1), and always its attention temperature scale (0.1)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
      sub.add_option("--experts", o->experts,
                     "Mixture of experts: this many experts per layer (qwen2moe, qwen3moe, granitemoe, gpt-oss, or "
                     "llama for a Mixtral-style model), with --experts-used of them per token")
          ->check(CLI::Range(0, 1024))
          ->capture_default_str();
      sub.add_option("--experts-used", o->experts_used, "Experts run per token")->check(CLI::Range(0, 1024));
      sub.add_option("--expert-ff", o->expert_ff, "Width of each expert's FFN (0: the preset's n_ff)")
          ->check(CLI::Range(0, 1 << 20));
      sub.add_option("--shared-expert-ff", o->shared_expert_ff,
                     "granitemoe: a shared expert of this width in every layer, added to the mixture without a "
                     "gate, as Granite MoE Shared files have it (0: none)")
          ->check(CLI::Range(0, 1 << 20));
      sub.add_flag("--long-rope", o->long_rope,
                   "LongRoPE factors and keys as Phi-3.5-mini has them (original context n_ctx / 32): a context "
                   "above that rotates with the long factors");
      sub.add_flag("--tied", o->tied, "No output.weight: the output projection reuses token_embd");
      sub.add_option("--seed", o->seed, "Seed of the random weights (same seed, same file)")->capture_default_str();
      sub.add_option("-o,--output", o->out, "GGUF file to write (atomically)")->required();
      sub.footer(
          "Examples:\n"
          "  plumb synth --preset tiny --seed 1 -o tiny.gguf\n"
          "  plumb synth --arch qwen2 --preset small --type q8_0 --seed 2 -o small-qwen2.gguf\n"
          "  plumb synth --arch qwen3 --preset small --head-dim 64 --type q8_0 --seed 5 -o small-qwen3.gguf\n"
          "  plumb synth --arch gemma3 --preset small --sliding-window 16 --tied --seed 6 -o small-gemma3.gguf\n"
          "  plumb synth --arch qwen3moe --preset small --experts 8 --experts-used 2 --expert-ff 256 -o moe.gguf\n"
          "  plumb synth --arch gpt-oss --preset small --head-dim 64 --experts 8 --experts-used 2 --type mxfp4_moe "
          "-o oss.gguf\n"
          "  plumb synth --preset 1b --type q4_0 --tied --vocab llama3-vocab.gguf --seed 3 -o 1b.gguf\n"
          "  plumb synth --preset 1b --type q4_K_M --seed 1 -o 1b-q4_K_M.gguf\n"
          "  plumb synth --preset small --type q5_0 --seed 4 -o small-q5_0.gguf\n");
      return [o] { return run_synth(*o); };
    });

}  // namespace
}  // namespace plumb::app
