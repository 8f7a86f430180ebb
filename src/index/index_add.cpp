// `add`: walk, skip what is unchanged, load, chunk, embed, and commit one transaction per file.
//
// Crash safety: everything about one file (its document row and all its chunks) is written in
// one IMMEDIATE transaction, so a process killed at any point leaves each file either at its
// old state or fully indexed; the next run sees the leftovers as changed/new and finishes.
// PLUMB_TEST_KILL_AFTER_FILES=N (tests only) raises SIGKILL inside the transaction of the
// (N+1)-th written file, after its chunks are inserted and before COMMIT.
#include <fnmatch.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "index/chunker.h"
#include "index/doc_index_impl.h"

namespace plumb::index {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxFileBytes = int64_t{1} << 30;  // files above 1 GiB are skipped
constexpr size_t kEmbedBatch = 32;

struct FileStat {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

bool stat_file(const std::string& path, FileStat* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  out->size = st.st_size;
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

Result<std::string> read_whole_file(const std::string& path, int64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::string data;
  data.resize(static_cast<size_t>(size));
  in.read(data.data(), size);
  data.resize(static_cast<size_t>(in.gcount()));
  // The file may have grown since stat(); read the rest too.
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(data.size()) > kMaxFileBytes) return Status::OutOfRange(path + ": file grew past 1 GiB");
  }
  if (in.bad()) return Status::IOError(path + ": read error");
  return data;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& rel, const std::string& base) {
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), base.c_str(), 0) == 0 || fnmatch(g.c_str(), rel.c_str(), 0) == 0) return true;
  return false;
}

std::string file_stem(const std::string& path) { return fs::path(path).filename().string(); }

struct ExistingDoc {
  int64_t id = 0;
  FileStat st;
  std::string hash;
  int chunk_tokens = 0, overlap_tokens = 0;
  int64_t unembedded = 0;
};

}  // namespace

Result<AddReport> DocIndexImpl::add(const std::vector<std::string>& paths, const AddOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const ChunkingOptions& co = options.chunking;
  if (co.chunk_tokens < 8 || co.chunk_tokens > 100000)
    return Status::InvalidArgument("chunk size must be 8..100000 tokens, got " + std::to_string(co.chunk_tokens));
  if (co.overlap_tokens < 0 || co.overlap_tokens >= co.chunk_tokens)
    return Status::InvalidArgument("overlap must be 0.." + std::to_string(co.chunk_tokens - 1) + " tokens, got " +
                                   std::to_string(co.overlap_tokens));
  AddReport rep;
  auto message = [&](IndexMessage::Level level, const std::string& path, std::string text) {
    IndexMessage m{level, path, std::move(text)};
    if (options.on_message) options.on_message(m);
    rep.messages.push_back(std::move(m));
  };
  Embedder* embedder = options.embedder;
  if (embedder) {
    PLUMB_ASSIGN_OR_RETURN(std::string model, get_meta("embed_model"));
    if (!model.empty() && model != embedder->model_name())
      return Status::InvalidArgument(db_->path() + ": chunks were embedded with model '" + model + "', not '" +
                                     embedder->model_name() + "'; use the same embedding model or a new database");
  }

  // ---- 1. Collect files: sorted, deduplicated, the database's own files excluded.
  const std::string db_abs = normalize_path(db_->path());
  const std::set<std::string> own = {db_abs, db_abs + "-wal", db_abs + "-shm", db_abs + "-journal"};
  std::set<std::string> files;
  std::vector<std::string> roots;
  for (const auto& raw : paths) {
    const std::string root = normalize_path(raw);
    roots.push_back(root);
    std::error_code ec;
    fs::file_status st = fs::status(root, ec);
    if (ec || !fs::exists(st)) {
      message(IndexMessage::Level::kError, raw, "no such file or directory");
      ++rep.files_failed;
      continue;
    }
    if (fs::is_regular_file(st)) {
      if (!own.count(root)) files.insert(root);  // named explicitly: globs do not apply
      continue;
    }
    if (!fs::is_directory(st)) {
      message(IndexMessage::Level::kWarning, raw, "not a regular file or directory; skipped");
      ++rep.files_skipped;
      continue;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) {
      message(IndexMessage::Level::kError, raw, "cannot list directory: " + ec.message());
      ++rep.files_failed;
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        message(IndexMessage::Level::kWarning, raw, "directory walk: " + ec.message());
        break;
      }
      const fs::path& p = it->path();
      const std::string base = p.filename().string();
      const std::string rel = p.lexically_relative(root).string();
      const bool is_dir = it->is_directory(ec);
      if (!base.empty() && base[0] == '.') {  // hidden: .git, .cache, editor swap files
        if (is_dir) it.disable_recursion_pending();
        continue;
      }
      if (matches_any(options.exclude_globs, rel, base)) {
        if (is_dir) it.disable_recursion_pending();
        continue;
      }
      if (is_dir || !it->is_regular_file(ec)) continue;
      if (!options.include_globs.empty() && !matches_any(options.include_globs, rel, base)) continue;
      const std::string abs = normalize_path(p.string());
      if (!own.count(abs)) files.insert(abs);
    }
  }
  rep.files_seen = static_cast<int64_t>(files.size());

  // ---- 2. What the database already knows.
  std::map<std::string, ExistingDoc> existing;
  {
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
        "SELECT d.id, d.path, d.size, d.mtime_ns, d.hash, d.chunk_tokens, d.overlap_tokens, "
        "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id AND c.embedding IS NULL) FROM documents d"));
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      ExistingDoc e;
      e.id = st.col_int(0);
      e.st.size = st.col_int(2);
      e.st.mtime_ns = st.col_int(3);
      e.hash = st.col_text(4);
      e.chunk_tokens = static_cast<int>(st.col_int(5));
      e.overlap_tokens = static_cast<int>(st.col_int(6));
      e.unembedded = st.col_int(7);
      existing[st.col_text(1)] = std::move(e);
    }
  }

  int64_t kill_after = -1;
  if (const char* k = std::getenv("PLUMB_TEST_KILL_AFTER_FILES")) kill_after = std::atoll(k);
  int64_t written = 0;

  AddProgress prog;
  prog.files_total = rep.files_seen;
  auto report_progress = [&](const std::string& path) {
    prog.current_path = path;
    prog.chunks_written = rep.chunks_written;
    prog.bytes_read = rep.bytes_read;
    prog.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (options.on_progress) options.on_progress(prog);
  };

  auto embed_texts = [&](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
    std::vector<std::vector<float>> out;
    for (size_t i = 0; i < texts.size(); i += kEmbedBatch) {
      std::vector<std::string> batch(texts.begin() + i, texts.begin() + std::min(texts.size(), i + kEmbedBatch));
      PLUMB_ASSIGN_OR_RETURN(auto v, embedder->embed(batch));
      if (v.size() != batch.size())
        return Status::Corrupt("embedder '" + embedder->model_name() + "' returned " + std::to_string(v.size()) +
                               " vectors for " + std::to_string(batch.size()) + " texts");
      for (auto& x : v) {
        if (x.empty() || (!out.empty() && x.size() != out.front().size()))
          return Status::Corrupt("embedder '" + embedder->model_name() + "' returned vectors of varying dimension");
        out.push_back(std::move(x));
      }
    }
    return out;
  };
  // Records the model and dimension on first use; refuses a dimension change.
  auto check_dim = [&](size_t dim) -> Status {
    PLUMB_ASSIGN_OR_RETURN(std::string d, get_meta("embed_dim"));
    if (d.empty()) {
      PLUMB_RETURN_IF_ERROR(set_meta("embed_model", embedder->model_name()));
      return set_meta("embed_dim", std::to_string(dim));
    }
    if (d != std::to_string(dim))
      return Status::Corrupt("embedder '" + embedder->model_name() + "' returned dimension " + std::to_string(dim) +
                             ", the index holds " + d);
    return Status::Ok();
  };

  // Adds vectors to the stored chunks of an unchanged document that has none yet.
  auto embed_existing = [&](int64_t doc_id) -> Status {
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("SELECT id, text FROM chunks WHERE doc_id = ?1 AND embedding IS NULL ORDER BY seq"));
    st.bind(1, doc_id);
    std::vector<int64_t> ids;
    std::vector<std::string> texts;
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      ids.push_back(st.col_int(0));
      texts.push_back(st.col_text(1));
    }
    if (ids.empty()) return Status::Ok();
    PLUMB_ASSIGN_OR_RETURN(auto vecs, embed_texts(texts));
    Transaction tx(*db_);
    PLUMB_RETURN_IF_ERROR(tx.begin());
    PLUMB_RETURN_IF_ERROR(check_dim(vecs.front().size()));
    PLUMB_ASSIGN_OR_RETURN(Stmt up, db_->prepare("UPDATE chunks SET embedding = ?2 WHERE id = ?1"));
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string_view b = floats_as_blob(vecs[i]);
      up.bind(1, ids[i]).bind_blob(2, b.data(), b.size());
      PLUMB_RETURN_IF_ERROR(up.run());
    }
    return tx.commit();
  };

  // ---- 3. One file at a time.
  for (const std::string& path : files) {
    ++prog.files_done;
    FileStat fst;
    if (!stat_file(path, &fst)) {
      message(IndexMessage::Level::kError, path, "cannot stat (vanished or unreadable); skipped");
      ++rep.files_failed;
      report_progress(path);
      continue;
    }
    auto ex = existing.find(path);
    const bool known = ex != existing.end();
    const bool same_chunking =
        known && ex->second.chunk_tokens == co.chunk_tokens && ex->second.overlap_tokens == co.overlap_tokens;
    const bool needs_vectors = embedder && known && ex->second.unembedded > 0;
    if (same_chunking && ex->second.st.size == fst.size && ex->second.st.mtime_ns == fst.mtime_ns) {
      if (needs_vectors) {
        Status s = embed_existing(ex->second.id);
        if (!s.ok()) {
          message(IndexMessage::Level::kError, path, "embedding failed: " + s.message());
          ++rep.files_failed;
        }
      }
      ++rep.files_unchanged;
      report_progress(path);
      continue;
    }
    if (fst.size > kMaxFileBytes) {
      message(IndexMessage::Level::kWarning, path, "larger than 1 GiB; skipped");
      ++rep.files_skipped;
      report_progress(path);
      continue;
    }
    auto data_r = read_whole_file(path, fst.size);
    if (!data_r.ok()) {
      message(IndexMessage::Level::kError, path, data_r.status().message());
      ++rep.files_failed;
      report_progress(path);
      continue;
    }
    const std::string& data = *data_r;
    ++rep.files_read;
    rep.bytes_read += static_cast<int64_t>(data.size());
    const std::string hash = hex64(XXH3_64bits(data.data(), data.size()));
    if (same_chunking && ex->second.hash == hash) {
      // Touched but identical: refresh the stat so the next run skips it without reading.
      PLUMB_ASSIGN_OR_RETURN(Stmt up, db_->prepare("UPDATE documents SET size = ?2, mtime_ns = ?3 WHERE id = ?1"));
      up.bind(1, ex->second.id).bind(2, fst.size).bind(3, fst.mtime_ns);
      PLUMB_RETURN_IF_ERROR(up.run());
      if (needs_vectors) {
        Status s = embed_existing(ex->second.id);
        if (!s.ok()) message(IndexMessage::Level::kError, path, "embedding failed: " + s.message());
      }
      ++rep.files_unchanged;
      report_progress(path);
      continue;
    }
    const std::string kind = detect_kind(path, std::string_view(data).substr(0, 8192));
    if (kind.empty()) {
      message(IndexMessage::Level::kInfo, path, "unknown file type; skipped");
      ++rep.files_skipped;
      report_progress(path);
      continue;
    }
    auto loaded = load_document(kind, data, path);
    if (!loaded.ok()) {
      message(IndexMessage::Level::kError, path, "skipped: " + loaded.status().message());
      ++rep.files_failed;
      report_progress(path);
      continue;
    }
    for (const auto& w : loaded->warnings) message(IndexMessage::Level::kWarning, path, w);
    std::vector<ChunkData> chunks = chunk_sections(loaded->sections, co);
    if (chunks.empty()) message(IndexMessage::Level::kInfo, path, "no text found");
    std::vector<std::vector<float>> vecs;
    if (embedder && !chunks.empty()) {
      std::vector<std::string> texts;
      for (const auto& c : chunks) texts.push_back(c.heading.empty() ? c.text : c.heading + "\n" + c.text);
      auto v = embed_texts(texts);
      if (!v.ok()) {
        message(IndexMessage::Level::kError, path, "skipped: embedding failed: " + v.status().message());
        ++rep.files_failed;
        report_progress(path);
        continue;
      }
      vecs = std::move(*v);
    }
    const std::string title = loaded->title.empty() ? file_stem(path) : loaded->title;
    nlohmann::json meta = nlohmann::json::object();
    if (!loaded->warnings.empty()) meta["warnings"] = loaded->warnings;

    Transaction tx(*db_);
    PLUMB_RETURN_IF_ERROR(tx.begin());
    if (known) PLUMB_RETURN_IF_ERROR(delete_document(ex->second.id));
    PLUMB_ASSIGN_OR_RETURN(Stmt ins_doc, db_->prepare(
        "INSERT INTO documents(path, kind, title, size, mtime_ns, hash, pages, chunk_tokens, overlap_tokens, "
        "metadata, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    ins_doc.bind(1, path).bind(2, kind).bind(3, title).bind(4, fst.size).bind(5, fst.mtime_ns).bind(6, hash)
        .bind(7, loaded->pages).bind(8, co.chunk_tokens).bind(9, co.overlap_tokens).bind(10, meta.dump())
        .bind(11, static_cast<int64_t>(std::time(nullptr)));
    PLUMB_RETURN_IF_ERROR(ins_doc.run());
    const int64_t doc_id = db_->last_insert_id();
    if (!vecs.empty()) PLUMB_RETURN_IF_ERROR(check_dim(vecs.front().size()));
    PLUMB_ASSIGN_OR_RETURN(Stmt ins, db_->prepare(
        "INSERT INTO chunks(doc_id, seq, title, heading, text, page, line_start, line_end, byte_start, byte_end, "
        "embedding) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    for (size_t i = 0; i < chunks.size(); ++i) {
      const ChunkData& c = chunks[i];
      ins.bind(1, doc_id).bind(2, static_cast<int64_t>(i)).bind(3, title).bind(4, c.heading).bind(5, c.text)
          .bind(6, c.page).bind(7, c.line_start).bind(8, c.line_end).bind(9, c.byte_start).bind(10, c.byte_end);
      if (!vecs.empty()) {
        std::string_view b = floats_as_blob(vecs[i]);
        ins.bind_blob(11, b.data(), b.size());
      } else {
        ins.bind_null(11);
      }
      PLUMB_RETURN_IF_ERROR(ins.run());
    }
    if (kill_after >= 0 && written == kill_after) std::raise(SIGKILL);  // TEST hook, see top of file
    PLUMB_RETURN_IF_ERROR(tx.commit());
    ++written;
    vectors_.reset();
    chunk_count_.reset();
    rep.chunks_written += static_cast<int64_t>(chunks.size());
    if (known) ++rep.files_updated;
    else ++rep.files_added;
    report_progress(path);
  }

  // ---- 4. Prune documents under the given roots whose files are gone.
  if (options.prune) {
    std::vector<std::pair<int64_t, std::string>> gone;
    for (const auto& entry : existing) {
      const std::string& p = entry.first;
      bool under = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
        return p == r || (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/');
      });
      std::error_code ec;
      if (under && !fs::exists(p, ec)) gone.emplace_back(entry.second.id, p);
    }
    for (const auto& [id, p] : gone) {
      Transaction tx(*db_);
      PLUMB_RETURN_IF_ERROR(tx.begin());
      PLUMB_RETURN_IF_ERROR(delete_document(id));
      PLUMB_RETURN_IF_ERROR(tx.commit());
      message(IndexMessage::Level::kInfo, p, "file is gone; removed from the index");
      ++rep.files_pruned;
      vectors_.reset();
      chunk_count_.reset();
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace plumb::index
