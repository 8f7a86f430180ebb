// Every row of ../shared/testdata/watermark/golden.tsv: green lists computed by the
// reference's seeding functions with PyTorch CPU generators.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "plumb/watermark.h"
#include "sha256.h"
#include "support/test_support.h"
#include "watermark/prf.h"

namespace plumb {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> out;
  for (const auto& f : split(s, ',')) out.push_back(static_cast<int32_t>(std::stol(f)));
  return out;
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(test::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(test::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(test::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Golden, EveryRowMatchesTheReference) {
  PLUMB_REQUIRE_SHARED(path, "testdata/watermark/golden.tsv");
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  std::getline(in, line);
  ASSERT_EQ(split(line, '\t').size(), 9u) << "header: " << line;
  int rows = 0;
  std::set<std::string> schemes;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto f = split(line, '\t');
    ASSERT_EQ(f.size(), 9u) << line;
    SCOPED_TRACE(line.substr(0, 80));
    auto scheme = parse_watermark_scheme(f[0]);
    ASSERT_TRUE(scheme.ok()) << scheme.status().to_string();
    schemes.insert(f[0]);
    WatermarkConfig cfg;
    cfg.scheme = *scheme;
    cfg.gamma = std::stod(f[2]);
    auto wm = Watermark::create(cfg, std::stoi(f[1]));
    ASSERT_TRUE(wm.ok()) << wm.status().to_string();
    const auto context = parse_ids(f[3]);
    ASSERT_EQ(static_cast<int>(context.size()), wm->context_width());

    EXPECT_EQ(watermark::prf_key(*scheme, cfg.key, context), static_cast<__int128>(std::stoll(f[4])));
    EXPECT_EQ(wm->seed(context), static_cast<uint32_t>(std::stoul(f[5])));
    const auto green = wm->green_list(context);
    ASSERT_EQ(static_cast<int64_t>(green.size()), std::stoll(f[6]));
    EXPECT_EQ(wm->green_count(), static_cast<int32_t>(green.size()));
    const auto first16 = parse_ids(f[7]);
    ASSERT_GE(green.size(), first16.size());
    EXPECT_EQ(std::vector<int32_t>(green.begin(), green.begin() + static_cast<std::ptrdiff_t>(first16.size())), first16);
    auto sorted = green;
    std::sort(sorted.begin(), sorted.end());
    std::string joined;
    for (size_t i = 0; i < sorted.size(); ++i) joined += (i ? "," : "") + std::to_string(sorted[i]);
    EXPECT_EQ(test::sha256_hex(joined), f[8]);

    // The single-token fast path agrees with the list for a sample of ids.
    std::vector<bool> in_list(static_cast<size_t>(wm->vocab_size()), false);
    for (int32_t id : green) in_list[static_cast<size_t>(id)] = true;
    const uint32_t seed = wm->seed(context);
    for (int32_t t = 0; t < wm->vocab_size(); t += std::max(1, wm->vocab_size() / 500))
      ASSERT_EQ(wm->is_green_seeded(seed, t), in_list[static_cast<size_t>(t)]) << "token " << t;
    ++rows;
  }
  EXPECT_EQ(rows, 40);
  EXPECT_EQ(schemes, (std::set<std::string>{"lefthash", "selfhash", "minhash", "skipgram"}));
}

}  // namespace
}  // namespace plumb
