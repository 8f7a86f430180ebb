#!/usr/bin/env bash
# Installs every Debian 12 package plumb needs to build, test and run.
# Idempotent and quiet when everything is already present.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache git
  clang libclang-rt-14-dev                  # libFuzzer and sanitizers
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libsqlite3-dev                            # index: FTS5, WAL
  libpcre2-dev libutf8proc-dev              # tokenizers: Unicode classes, normalisation
  libxxhash-dev                             # watermark `hash` scheme
  libcurl4-openssl-dev libssl-dev           # HTTP backends, embeddings
  libpoppler-cpp-dev                        # PDF loader
  libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng   # image OCR
  libgumbo-dev                              # HTML loader
  libmuparser-dev bubblewrap libzim-dev     # agent tools: calculator, sandbox, offline Wikipedia
  fonts-dejavu-core                         # tests render text into a PNG for OCR
  poppler-utils                             # pdftotext, used by docs and tests to cross-check
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
