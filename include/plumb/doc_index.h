// plumb/doc_index.h — a searchable index of the user's own documents, in one SQLite file.
//
// Documents (text, Markdown, HTML, PDF, CSV, PNG/JPEG/TIFF through OCR) are split into chunks
// that remember where they came from (path, page, line and byte range, heading).  Chunks are
// ranked with SQLite FTS5's bm25(); when an Embedder is configured, chunks also carry one
// float32 embedding each and queries fuse BM25 with exact cosine search by reciprocal-rank
// fusion.  The schema and the ranking are described in docs/index.md.
//
// Indexing is incremental and crash-safe: a file whose size and mtime are unchanged is not
// read again; a changed file replaces its chunks in one transaction; a process killed in the
// middle of `add` leaves every file either fully indexed or untouched, so a re-run completes.
//
// Thread safety: a DocIndex or ChatMemory object is used from one thread at a time.  Several
// processes may open the same database; SQLite (WAL mode) serialises writers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/status.h"

namespace plumb::index {

// ---------------------------------------------------------------------------------------------
// Pluggable back ends.

// Turns texts into fixed-size vectors.  Implementations: make_openai_embedder() below, a local
// GGUF model (to come), and deterministic fakes in tests.
class Embedder {
 public:
  virtual ~Embedder() = default;
  // A stable name stored in the database; vectors of different models are never compared.
  virtual std::string model_name() const = 0;
  // One vector per input text, all of the same dimension.
  virtual Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) = 0;
};

// Produces an answer from a complete prompt (the question plus numbered passages).
class AnswerGenerator {
 public:
  virtual ~AnswerGenerator() = default;
  virtual Result<std::string> generate(const std::string& prompt) = 0;
};

// POST {url} with {"model": model, "input": [...]}, OpenAI /v1/embeddings format.  `url` is the
// full endpoint (".../v1/embeddings"); a base ending in "/v1" gets "/embeddings" appended.
// `api_key` may be empty (no Authorization header).
std::unique_ptr<Embedder> make_openai_embedder(std::string url, std::string model, std::string api_key);
// POST {api_base}/chat/completions with one user message, OpenAI format; returns the first
// choice's message content.
std::unique_ptr<AnswerGenerator> make_openai_chat_generator(std::string api_base, std::string model,
                                                            std::string api_key);

// ---------------------------------------------------------------------------------------------
// Index.

struct IndexConfig {
  // Only read when the database is created: FTS5 porter stemming on top of unicode61.
  bool porter_stemming = false;
};

struct ChunkingOptions {
  int chunk_tokens = 180;  // words per chunk at most (a word approximates a token)
  int overlap_tokens = 30;  // words repeated between consecutive windows of one long section
};

struct IndexMessage {
  enum class Level { kInfo, kWarning, kError };
  Level level = Level::kInfo;
  std::string path;
  std::string text;
};
std::string_view message_level_name(IndexMessage::Level level);

struct AddProgress {
  int64_t files_total = 0;
  int64_t files_done = 0;
  int64_t chunks_written = 0;
  int64_t bytes_read = 0;
  double elapsed_s = 0;
  std::string current_path;
};

struct AddOptions {
  std::vector<std::string> include_globs;  // when non-empty, a file must match one
  std::vector<std::string> exclude_globs;  // a file or directory matching one is skipped
  bool prune = false;                      // drop documents under the given paths that are gone
  ChunkingOptions chunking;
  Embedder* embedder = nullptr;            // not owned; null means BM25 only
  std::function<void(const AddProgress&)> on_progress;
  std::function<void(const IndexMessage&)> on_message;
};

struct AddReport {
  int64_t files_seen = 0;
  int64_t files_added = 0;
  int64_t files_updated = 0;
  int64_t files_unchanged = 0;
  int64_t files_skipped = 0;  // unknown type, excluded by size
  int64_t files_failed = 0;   // broken files, reported and skipped
  int64_t files_pruned = 0;
  int64_t files_read = 0;     // files whose contents were read (0 on an unchanged re-run)
  int64_t chunks_written = 0;
  int64_t bytes_read = 0;
  double seconds = 0;
  std::vector<IndexMessage> messages;
};

struct DocumentInfo {
  std::string path;
  std::string kind;  // text, markdown, html, pdf, csv, image
  std::string title;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::string hash;  // xxh3-64, hex
  int64_t chunks = 0;
  int64_t pages = 0;  // PDFs; 0 otherwise
};

struct SearchHit {
  int64_t chunk_id = 0;
  std::string path;
  std::string kind;
  std::string title;
  std::string heading;
  std::string text;
  int page = 0;        // 1-based for PDFs, 0 when the format has no pages
  int line_start = 0;  // 1-based line range in the source; 0 when unknown
  int line_end = 0;
  int64_t byte_start = -1;  // byte range in the source; -1 when unknown
  int64_t byte_end = -1;
  double score = 0;    // higher is better (negated bm25, or the fused RRF score)
  double bm25 = 0;     // SQLite's bm25(): lower is better; 0 when not matched by FTS
  int bm25_rank = 0;   // 1-based rank in each list, 0 when absent
  int vector_rank = 0;
  double cosine = 0;
};

struct QueryOptions {
  int k = 5;
  Embedder* embedder = nullptr;  // not owned; enables hybrid ranking when the db has vectors
  int candidates = 50;           // per-list depth fused by RRF
  int rrf_k = 60;                // the constant in 1 / (rrf_k + rank)
};

struct IndexStats {
  int64_t documents = 0;
  int64_t chunks = 0;
  int64_t text_bytes = 0;
  int64_t source_bytes = 0;
  int64_t db_bytes = 0;
  int64_t embedded_chunks = 0;
  std::string embed_model;
  int64_t embed_dim = 0;
  std::string tokenizer;
  std::vector<std::pair<std::string, int64_t>> documents_by_kind;
};

class DocIndex {
 public:
  virtual ~DocIndex() = default;

  // Opens or creates the database at `db_path`.  `config` applies only on creation.
  static Result<std::unique_ptr<DocIndex>> open(const std::string& db_path, const IndexConfig& config = {});

  // Indexes files and folders (recursively; hidden entries and the database itself skipped).
  // Broken or unknown files become messages, never errors; the Status is for the database.
  virtual Result<AddReport> add(const std::vector<std::string>& paths, const AddOptions& options) = 0;
  virtual Result<std::vector<DocumentInfo>> list() = 0;
  // Removes the document at `path`, or every document under it when it names a folder.
  // Returns how many were removed (0: nothing matched).
  virtual Result<int64_t> remove(const std::string& path) = 0;
  // Natural-language text in; never an FTS syntax error.  Best first.
  virtual Result<std::vector<SearchHit>> query(const std::string& text, const QueryOptions& options) = 0;
  virtual Result<IndexStats> stats() = 0;
};

// Turns free text into a safe FTS5 MATCH expression: terms quoted and OR-ed, stop words dropped
// (unless nothing else is left), light suffix stripping as extra prefix terms.  Returns "" when
// the text has no searchable term.
std::string fts_query_from_text(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Answers.

struct Answer {
  std::string text;               // the generated answer, or the extractive passages
  std::vector<SearchHit> sources;  // [1] is sources[0]
  std::string prompt;             // what was sent to the generator ("" in extractive mode)
  bool extractive = true;
};

// The prompt that quotes `hits` as [1], [2], ... and asks for an answer citing them.
std::string build_answer_prompt(const std::string& question, const std::vector<SearchHit>& hits);
// Retrieves the best chunks and answers: with `generator` null, extractively (the most relevant
// sentences of each passage, numbered).
Result<Answer> answer_question(DocIndex& index, const std::string& question, const QueryOptions& options,
                               AnswerGenerator* generator);
// "path, page 2" / "path, lines 3-9".
std::string format_source(const SearchHit& hit);

// ---------------------------------------------------------------------------------------------
// Long-term chat memory: every turn stored in a SQLite file, relevant past turns recalled by BM25.

struct MemoryTurn {
  int64_t id = 0;
  std::string session;
  std::string role;  // "user", "assistant", ...
  std::string text;
  int64_t created_at = 0;  // unix seconds
  double score = 0;        // recall(): higher is better
};

class ChatMemory {
 public:
  virtual ~ChatMemory() = default;
  static Result<std::unique_ptr<ChatMemory>> open(const std::string& path);
  // Returns the new turn's id.
  virtual Result<int64_t> add_turn(const std::string& session, const std::string& role, const std::string& text) = 0;
  // The `k` past turns most relevant to `text`, best first; turns with id >= `before_id` are
  // ignored when before_id > 0 (so the current exchange is not recalled to itself).
  virtual Result<std::vector<MemoryTurn>> recall(const std::string& text, int k, int64_t before_id = 0) = 0;
  // The last `n` turns of `session` in chronological order.
  virtual Result<std::vector<MemoryTurn>> recent(const std::string& session, int n) = 0;
  virtual Result<int64_t> count() = 0;
};

}  // namespace plumb::index
