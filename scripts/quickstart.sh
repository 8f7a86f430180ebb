#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds plumb, then
# synthesizes a small llama-architecture model and inspects it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target plumb
plumb=build/apps/plumb/plumb
mkdir -p build/quickstart
$plumb synth --arch llama --preset tiny --type q8_0 --seed 1 -o build/quickstart/tiny-q8_0.gguf
$plumb inspect build/quickstart/tiny-q8_0.gguf
