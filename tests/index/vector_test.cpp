// The vector path with an in-process deterministic embedder (no network): cosine search,
// RRF, storage of vectors per chunk, and hybrid ranking finding what BM25 alone cannot.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "index/vector_search.h"
#include "plumb/doc_index.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

using plumb::test::TempDir;
using plumb::test::write_file;

// Hashed bag of words with a tiny synonym table, so "automobile" lands where "car" does —
// something BM25 cannot do.
class FakeEmbedder : public Embedder {
 public:
  static constexpr int kDim = 64;
  std::string model_name() const override { return "fake-bow-64"; }
  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) override {
    ++calls;
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) {
      std::vector<float> v(kDim, 0.0f);
      std::string w;
      auto flush = [&] {
        if (w.empty()) return;
        if (w == "automobile" || w == "vehicle") w = "car";
        v[std::hash<std::string>{}(w) % kDim] += 1.0f;
        w.clear();
      };
      for (char c : t) {
        if (std::isalnum(static_cast<unsigned char>(c))) w += static_cast<char>(std::tolower(c));
        else flush();
      }
      flush();
      out.push_back(std::move(v));
    }
    return out;
  }
  int calls = 0;
};

TEST(VectorSearch, DotAndTopKMatchAReference) {
  VectorMatrix m(37);  // odd dimension exercises the scalar tail
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < 50; ++r) {
    std::vector<float> v(37);
    for (int i = 0; i < 37; ++i) v[i] = std::sin(0.37f * r + 0.11f * i * (r % 5 + 1));
    rows.push_back(v);
    m.add(1000 + r, v.data());
  }
  std::vector<float> q(37);
  for (int i = 0; i < 37; ++i) q[i] = std::cos(0.2f * i);
  // Reference cosine in double precision.
  std::vector<std::pair<double, int>> ref;
  for (int r = 0; r < 50; ++r) {
    double d = 0, nr = 0, nq = 0;
    for (int i = 0; i < 37; ++i) { d += double(rows[r][i]) * q[i]; nr += double(rows[r][i]) * rows[r][i]; nq += double(q[i]) * q[i]; }
    ref.emplace_back(d / std::sqrt(nr * nq), r);
  }
  std::sort(ref.begin(), ref.end(), [](auto& a, auto& b) { return a.first > b.first; });
  auto top = m.top_k(q, 5);
  ASSERT_EQ(top.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(top[i].first, 1000 + ref[i].second);
    EXPECT_NEAR(top[i].second, ref[i].first, 1e-5);
  }
}

TEST(VectorSearch, RrfFusionByHand) {
  // k = 60: id 7 is rank 1 and rank 3 -> 1/61 + 1/63; id 8 rank 2 only -> 1/62; id 9 rank 1 -> 1/61.
  auto f = rrf_fuse({{7, 8}, {9, 5, 7}}, 60);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].first, 7);
  EXPECT_NEAR(f[0].second, 1.0 / 61 + 1.0 / 63, 1e-12);
  EXPECT_EQ(f[1].first, 9);  // 1/61, ties with nothing
  EXPECT_EQ(f[2].first, 5);  // 1/62 ties with 8: smaller id first
  EXPECT_EQ(f[3].first, 8);
}

TEST(HybridIndex, VectorsAreStoredAndFusedWithBm25) {
  TempDir dir;
  write_file(dir.file("cars.txt"), "My car needs new tyres before winter.\n");
  write_file(dir.file("boats.txt"), "The sailing boat is moored in the harbour.\n");
  write_file(dir.file("trains.txt"), "The night train to Vienna leaves at ten.\n");
  auto idx = DocIndex::open(dir.file("v.db"));
  ASSERT_TRUE(idx.ok());
  FakeEmbedder emb;
  AddOptions o;
  o.embedder = &emb;
  auto r = (*idx)->add({dir.path().string()}, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->files_added, 3);
  auto st = (*idx)->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->embedded_chunks, 3);
  EXPECT_EQ(st->embed_model, "fake-bow-64");
  EXPECT_EQ(st->embed_dim, FakeEmbedder::kDim);

  // BM25 alone cannot find "automobile".
  auto bm = (*idx)->query("automobile tyres?", QueryOptions{.k = 3});
  ASSERT_TRUE(bm.ok());
  ASSERT_FALSE(bm->empty());  // "tyres" matches
  auto only_vec = (*idx)->query("automobile", QueryOptions{.k = 3});
  ASSERT_TRUE(only_vec.ok());
  EXPECT_TRUE(only_vec->empty());

  QueryOptions q{.k = 3};
  q.embedder = &emb;
  auto hy = (*idx)->query("automobile", q);
  ASSERT_TRUE(hy.ok()) << hy.status().to_string();
  ASSERT_FALSE(hy->empty());
  EXPECT_NE(hy->front().path.find("cars.txt"), std::string::npos);
  EXPECT_EQ(hy->front().vector_rank, 1);
  EXPECT_EQ(hy->front().bm25_rank, 0);
  EXPECT_GT(hy->front().cosine, 0.3);
  EXPECT_NEAR(hy->front().score, 1.0 / 61, 1e-9);

  // Both lists agree on trains: it ranks first with score 2/61.
  hy = (*idx)->query("night train Vienna", q);
  ASSERT_TRUE(hy.ok());
  EXPECT_NE(hy->front().path.find("trains.txt"), std::string::npos);
  EXPECT_NEAR(hy->front().score, 2.0 / 61, 1e-9);

  // Unchanged re-run: no embedding calls.
  const int calls = emb.calls;
  r = (*idx)->add({dir.path().string()}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_read, 0);
  EXPECT_EQ(emb.calls, calls);
}

TEST(HybridIndex, EmbeddingsAddedLaterWithoutRereadingAndModelMismatchRefused) {
  TempDir dir;
  write_file(dir.file("a.txt"), "one car\n");
  auto idx = DocIndex::open(dir.file("v.db"));
  ASSERT_TRUE(idx.ok());
  ASSERT_TRUE((*idx)->add({dir.file("a.txt")}, AddOptions{}).ok());
  FakeEmbedder emb;
  AddOptions o;
  o.embedder = &emb;
  auto r = (*idx)->add({dir.file("a.txt")}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_read, 0);
  EXPECT_EQ((*idx)->stats()->embedded_chunks, 1);

  class Other : public FakeEmbedder {
    std::string model_name() const override { return "other"; }
  } other;
  o.embedder = &other;
  r = (*idx)->add({dir.file("a.txt")}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("embedded with model 'fake-bow-64', not 'other'"), std::string::npos);
  QueryOptions q;
  q.embedder = &other;
  EXPECT_FALSE((*idx)->query("car", q).ok());
}

}  // namespace
}  // namespace plumb::index
