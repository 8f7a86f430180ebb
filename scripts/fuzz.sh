#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan) and runs it for SECONDS.
#   scripts/fuzz.sh gguf_reader_fuzz 600
# Build dir: build-fuzz.  Corpus: build-fuzz/corpus/TARGET (kept between runs, seeded with
# synthesized GGUF files).  Crashes land in build-fuzz/artifacts/TARGET/.  FUZZ_MAX_LEN
# (default 65536) bounds input size: the reader's checks all sit in the first KBs.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
jobs=${FUZZ_BUILD_JOBS:-2}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPLUMB_FUZZ=ON -DPLUMB_TESTS=OFF -DPLUMB_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target "$target"

corpus=build-fuzz/corpus/$target
artifacts=build-fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"

# Seed GGUF targets with real files: the plumb binary of any build writes synthetic models.
if [[ $target == gguf_* ]] && [ -z "$(ls -A "$corpus")" ]; then
  plumb=""
  if cmake --build build-fuzz -j "$jobs" --target plumb >/dev/null 2>&1; then
    plumb=build-fuzz/apps/plumb/plumb
  else
    for p in build/apps/plumb/plumb build-*/apps/plumb/plumb; do
      # An older build may lack `synth`: use the first binary that can write a model.
      if [ -x "$p" ] && "$p" synth --preset tiny --seed 1 -o "$corpus/probe.gguf" >/dev/null 2>&1; then
        plumb=$p
        break
      fi
    done
  fi
  if [ -n "$plumb" ]; then
    echo "fuzz.sh: seeding $corpus with files written by $plumb" >&2
    rm -f "$corpus/probe.gguf"
    "$plumb" synth --preset tiny --type q4_0 --seed 1 -o "$corpus/tiny-q4_0.gguf" >/dev/null || true
    "$plumb" synth --preset tiny --type q8_0 --arch qwen2 --tied --seed 2 -o "$corpus/tiny-qwen2-q8_0.gguf" >/dev/null || true
    "$plumb" synth --preset tiny --type bf16 --seed 3 -o "$corpus/tiny-bf16.gguf" >/dev/null || true
  else
    echo "fuzz.sh: no plumb binary to write seed files; starting from an empty corpus" >&2
  fi
  # A minimal file: header, one string key, no tensors.
  printf 'GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00k\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00v' \
    >"$corpus/minimal.gguf"
fi

dict=build-fuzz/$target.dict
cat >"$dict" <<'DICT'
"GGUF"
"general.alignment"
"general.architecture"
"tokenizer.ggml.tokens"
"\x03\x00\x00\x00"
"\x02\x00\x00\x00"
"\x09\x00\x00\x00"
"\x08\x00\x00\x00"
"\x20\x00\x00\x00"
"\x00\x00\x00\x00\x00\x00\x00\x00"
"\xff\xff\xff\xff\xff\xff\xff\xff"
DICT

echo "fuzz.sh: running $target for $seconds s (corpus $corpus)" >&2
"build-fuzz/fuzz/$target" "$corpus" -dict="$dict" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-65536}"
