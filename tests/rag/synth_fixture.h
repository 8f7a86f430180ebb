// A synthetic tiny model written by the test itself (src/gguf/synth.h).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "gguf/synth.h"
#include "support/test_support.h"

namespace plumb::test {

// Writes the "tiny" preset (n_embd 64, F32) to dir/name and returns its path.
inline std::string write_tiny_model(const TempDir& dir, const std::string& name = "tiny.gguf", bool tied = false) {
  auto spec = gguf::synth_preset("tiny");
  EXPECT_TRUE(spec.ok());
  spec->seed = 7;
  spec->tied_output = tied;
  const std::string path = dir.file(name);
  EXPECT_TRUE(gguf::synth_write(*spec, path).ok());
  return path;
}

}  // namespace plumb::test
