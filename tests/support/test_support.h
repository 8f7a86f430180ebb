// Helpers shared by every test binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace plumb::test {

// Path to ../shared/<rel> (reference models, vocabularies, vectors), or "" when absent.
std::string shared_path(const std::string& rel);

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the built `plumb` binary with `args` (a shell-quoted string) and optional stdin text.
CommandResult run_plumb(const std::string& args, const std::string& stdin_text = "");

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace plumb::test

// Skips the current test with a message when ../shared/<rel> is missing; otherwise
// declares `var` as its absolute path.
#define PLUMB_REQUIRE_SHARED(var, rel)                                                   \
  const std::string var = ::plumb::test::shared_path(rel);                              \
  if (var.empty()) GTEST_SKIP() << "../shared/" << rel << " is absent (users' clones do not have it); skipping"
