#!/usr/bin/env bash
# The main job on a fresh machine, offline, on embedded defaults: installs what is
# missing, builds plumb, then
#   1. indexes the project's own docs/ and README.md into one SQLite file and queries them;
#   2. synthesizes a small llama-architecture model, generates watermarked text with it,
#      and detects the watermark (and finds none in human-written text).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target plumb
plumb=build/apps/plumb/plumb
out=build/quickstart
mkdir -p "$out"
rm -f "$out"/docs.db*

echo "== 1. Index the documentation and ask it questions"
$plumb index add docs README.md --db "$out/docs.db"
$plumb index query "how does the GGUF reader check tensor offsets" --db "$out/docs.db" -k 3
$plumb index ask "which scheme is the watermark default" --db "$out/docs.db" -k 2

echo
echo "== 2. Watermark: generate with a secret key, then detect"
key=20261124
$plumb synth --arch llama --preset tiny --type q8_0 --seed 1 -o "$out/tiny-q8_0.gguf"
$plumb inspect "$out/tiny-q8_0.gguf" | head -n 12
$plumb run -m "$out/tiny-q8_0.gguf" -p "Once upon a time" -n 300 --seed 7 --ignore-eos \
  --watermark "$key" --no-display-prompt > "$out/watermarked.txt"
echo "-- generated text (random weights, so gibberish), scored with the key:"
$plumb detect -m "$out/tiny-q8_0.gguf" --wm-key "$key" "$out/watermarked.txt" | head -n 2
echo "-- human-written text (README.md), same key:"
$plumb detect -m "$out/tiny-q8_0.gguf" --wm-key "$key" README.md | head -n 2
