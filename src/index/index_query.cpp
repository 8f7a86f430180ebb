// Ranking: FTS5 bm25() over (title, heading, text) with column weights; with an embedder and
// stored vectors, exact cosine search too, fused with BM25 by reciprocal-rank fusion.
#include <algorithm>
#include <unordered_map>

#include "index/doc_index_impl.h"

namespace plumb::index {
namespace {

// bm25() column weights: a match in a heading or title says more about a chunk than one in
// its body.
constexpr const char* kBm25 = "bm25(chunks_fts, 1.5, 2.0, 1.0)";

}  // namespace

// Terms in more than half of all chunks have a BM25 IDF of at most zero (FTS5 clamps it to
// 1e-6): they cannot change the order of the other terms' matches, but OR-ing them in makes
// FTS5 score nearly every row.  They are dropped unless nothing else is left (then the rarest
// one stays).  Document frequencies come from an fts5vocab table on the temp schema, so a
// read-only database works too.
Result<std::vector<FtsTerm>> DocIndexImpl::prune_common_terms(std::vector<FtsTerm> terms) {
  if (terms.size() < 2) return terms;
  constexpr int64_t kMinChunks = 1000;  // small indexes are fast anyway
  if (!vocab_ready_) {
    PLUMB_RETURN_IF_ERROR(db_->exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab USING fts5vocab(main, chunks_fts, row)"));
    vocab_ready_ = true;
  }
  if (!chunk_count_) {
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("SELECT count(*) FROM chunks"));
    PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
    chunk_count_ = row ? st.col_int(0) : 0;
  }
  const int64_t n = *chunk_count_;
  if (n < kMinChunks) return terms;
  PLUMB_ASSIGN_OR_RETURN(Stmt df, db_->prepare("SELECT doc FROM temp.chunks_vocab WHERE term = ?1"));
  std::vector<FtsTerm> kept;
  std::optional<std::pair<int64_t, FtsTerm>> rarest_common;
  for (auto& t : terms) {
    int64_t d = 0;
    if (!t.prefix) {  // a prefix's frequency is unknown here; keep it
      df.bind(1, t.word);
      PLUMB_ASSIGN_OR_RETURN(bool row, df.step());
      d = row ? df.col_int(0) : 0;
      df.reset();
    }
    if (2 * d > n) {
      if (!rarest_common || d < rarest_common->first) rarest_common = std::make_pair(d, t);
      continue;
    }
    kept.push_back(std::move(t));
  }
  if (kept.empty() && rarest_common) kept.push_back(rarest_common->second);
  return kept;
}

Result<std::vector<std::pair<int64_t, double>>> DocIndexImpl::bm25_search(const std::string& text, int limit) {
  std::vector<std::pair<int64_t, double>> out;
  const std::vector<FtsTerm> all = fts_terms_from_text(text);
  PLUMB_ASSIGN_OR_RETURN(std::vector<FtsTerm> pruned, prune_common_terms(all));
  auto run = [&](const std::string& match) -> Status {
    out.clear();
    if (match.empty()) return Status::Ok();
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(std::string("SELECT rowid, ") + kBm25 +
                                                 " AS s FROM chunks_fts WHERE chunks_fts MATCH ?1 "
                                                 "ORDER BY s, rowid LIMIT ?2"));
    st.bind(1, match).bind(2, limit);
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.emplace_back(st.col_int(0), st.col_double(1));
    }
    return Status::Ok();
  };
  PLUMB_RETURN_IF_ERROR(run(join_fts_terms(pruned)));
  // Too few matches without the common terms: the full query, slow or not, is the answer.
  if (pruned.size() != all.size() && static_cast<int>(out.size()) < limit) PLUMB_RETURN_IF_ERROR(run(join_fts_terms(all)));
  return out;
}

Result<std::vector<std::pair<int64_t, float>>> DocIndexImpl::vector_search(Embedder& embedder, const std::string& text,
                                                                           int limit) {
  std::vector<std::pair<int64_t, float>> none;
  PLUMB_ASSIGN_OR_RETURN(std::string model, get_meta("embed_model"));
  if (model.empty()) return none;  // nothing embedded yet: BM25 alone
  if (model != embedder.model_name())
    return Status::InvalidArgument(db_->path() + ": chunks were embedded with model '" + model +
                                   "' but the query uses '" + embedder.model_name() + "'");
  if (!vectors_) {
    PLUMB_ASSIGN_OR_RETURN(std::string dim_s, get_meta("embed_dim"));
    const int dim = dim_s.empty() ? 0 : std::stoi(dim_s);
    VectorMatrix m(dim);
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("SELECT id, embedding FROM chunks WHERE embedding IS NOT NULL ORDER BY id"));
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      std::string_view blob = st.col_blob(1);
      if (blob.size() != static_cast<size_t>(dim) * sizeof(float)) continue;  // never mix dimensions
      std::vector<float> v = blob_as_floats(blob);
      m.add(st.col_int(0), v.data());
    }
    vectors_ = std::move(m);
  }
  PLUMB_ASSIGN_OR_RETURN(auto q, embedder.embed({text}));
  if (q.size() != 1 || static_cast<int>(q[0].size()) != vectors_->dim())
    return Status::Corrupt("embedder '" + embedder.model_name() + "' returned a query vector of dimension " +
                           std::to_string(q.empty() ? 0 : q[0].size()) + ", the index holds " +
                           std::to_string(vectors_->dim()));
  return vectors_->top_k(q[0], limit);
}

Status DocIndexImpl::fill_hit(int64_t chunk_id, SearchHit* h) {
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
      "SELECT d.path, d.kind, c.title, c.heading, c.text, c.page, c.line_start, c.line_end, c.byte_start, c.byte_end "
      "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?1"));
  st.bind(1, chunk_id);
  PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound(db_->path() + ": chunk " + std::to_string(chunk_id) + " vanished");
  h->chunk_id = chunk_id;
  h->path = st.col_text(0);
  h->kind = st.col_text(1);
  h->title = st.col_text(2);
  h->heading = st.col_text(3);
  h->text = st.col_text(4);
  h->page = static_cast<int>(st.col_int(5));
  h->line_start = static_cast<int>(st.col_int(6));
  h->line_end = static_cast<int>(st.col_int(7));
  h->byte_start = st.col_int(8);
  h->byte_end = st.col_int(9);
  return Status::Ok();
}

Result<std::vector<SearchHit>> DocIndexImpl::query(const std::string& text, const QueryOptions& options) {
  if (options.k <= 0) return Status::InvalidArgument("query: k must be positive, got " + std::to_string(options.k));
  const int depth = std::max(options.k, options.candidates);
  PLUMB_ASSIGN_OR_RETURN(auto bm25, bm25_search(text, options.embedder ? depth : options.k));
  std::vector<std::pair<int64_t, float>> vec;
  if (options.embedder) {
    PLUMB_ASSIGN_OR_RETURN(vec, vector_search(*options.embedder, text, depth));
  }
  std::vector<SearchHit> hits;
  if (vec.empty()) {
    for (size_t i = 0; i < bm25.size() && static_cast<int>(i) < options.k; ++i) {
      SearchHit h;
      PLUMB_RETURN_IF_ERROR(fill_hit(bm25[i].first, &h));
      h.bm25 = bm25[i].second;
      h.score = -bm25[i].second;
      h.bm25_rank = static_cast<int>(i) + 1;
      hits.push_back(std::move(h));
    }
    return hits;
  }
  std::vector<int64_t> l1, l2;
  std::unordered_map<int64_t, std::pair<int, double>> bm25_info;
  std::unordered_map<int64_t, std::pair<int, float>> vec_info;
  for (size_t i = 0; i < bm25.size(); ++i) {
    l1.push_back(bm25[i].first);
    bm25_info[bm25[i].first] = {static_cast<int>(i) + 1, bm25[i].second};
  }
  for (size_t i = 0; i < vec.size(); ++i) {
    l2.push_back(vec[i].first);
    vec_info[vec[i].first] = {static_cast<int>(i) + 1, vec[i].second};
  }
  auto fused = rrf_fuse({l1, l2}, options.rrf_k);
  for (size_t i = 0; i < fused.size() && static_cast<int>(i) < options.k; ++i) {
    SearchHit h;
    PLUMB_RETURN_IF_ERROR(fill_hit(fused[i].first, &h));
    h.score = fused[i].second;
    if (auto it = bm25_info.find(h.chunk_id); it != bm25_info.end()) {
      h.bm25_rank = it->second.first;
      h.bm25 = it->second.second;
    }
    if (auto it = vec_info.find(h.chunk_id); it != vec_info.end()) {
      h.vector_rank = it->second.first;
      h.cosine = it->second.second;
    }
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace plumb::index
