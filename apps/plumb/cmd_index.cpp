// `plumb index add|list|rm|query|stats|ask` — the documents index (src/index, docs/index.md).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "plumb/doc_index.h"
#include "rag/rag.h"

namespace plumb::app {
namespace {

using nlohmann::json;
namespace ix = plumb::index;

struct IndexArgs {
  std::string db = "plumb.db";
  bool json_out = false;
  // add
  std::vector<std::string> paths;
  std::vector<std::string> include, exclude;
  bool prune = false, stem = false, quiet = false;
  int chunk_tokens = ix::ChunkingOptions{}.chunk_tokens;
  int overlap = ix::ChunkingOptions{}.overlap_tokens;
  // query / ask
  std::string text;
  int k = 5;
  std::string embed_url, embed_model;
  std::string embed_pooling = "mean";
  std::string model, api_base, api_model;
  // ask -m: the local engine
  int n_predict = 256, threads = 0, ctx = 0;
  float temperature = 0;
  std::string chat_template;
  // rm
  std::string rm_path;
};

std::string api_key() {
  for (const char* name : {"PLUMB_API_KEY", "OPENAI_API_KEY"})
    if (const char* v = std::getenv(name)) return v;
  return {};
}

// Relative to the working directory when the file is below it: shorter, and what the user typed.
std::string display_path(const std::string& p) {
  std::error_code ec;
  const std::string cwd = std::filesystem::current_path(ec).string();
  if (!ec && p.size() > cwd.size() + 1 && p.compare(0, cwd.size(), cwd) == 0 && p[cwd.size()] == '/')
    return p.substr(cwd.size() + 1);
  return p;
}

void add_db_option(CLI::App* c, IndexArgs& a) {
  c->add_option("--db", a.db, "index database file (created when missing)")->capture_default_str();
}

void add_embed_options(CLI::App* c, IndexArgs& a) {
  c->add_option("--embed-url", a.embed_url,
                "OpenAI-compatible embeddings endpoint (…/v1/embeddings); enables hybrid BM25 + vector ranking");
  c->add_option("--embed-model", a.embed_model,
                "embedding model: a local GGUF file (decoder pooling in-process), or the name sent to --embed-url");
  c->add_option("--embed-pooling", a.embed_pooling, "local GGUF embeddings: mean or last token")
      ->capture_default_str()
      ->check(CLI::IsMember({"mean", "last"}));
}

// Null (BM25 only) when no embedding source is configured.
Result<std::unique_ptr<ix::Embedder>> make_embedder(const IndexArgs& a) {
  if (a.embed_url.empty() && a.embed_model.empty()) return std::unique_ptr<ix::Embedder>();
  if (a.embed_url.empty() && rag::looks_like_model_file(a.embed_model)) {
    rag::EmbedderOptions o;
    o.pooling = a.embed_pooling == "last" ? rag::Pooling::kLast : rag::Pooling::kMean;
    PLUMB_ASSIGN_OR_RETURN(auto e, rag::LocalEmbedder::load(a.embed_model, o));
    return std::unique_ptr<ix::Embedder>(std::move(e));
  }
  if (a.embed_url.empty())
    return Status::InvalidArgument("--embed-model " + a.embed_model +
                                   ": not a .gguf file, so it needs --embed-url (a server-side model name)");
  if (a.embed_model.empty()) return Status::InvalidArgument("--embed-url needs --embed-model NAME");
  return ix::make_openai_embedder(a.embed_url, a.embed_model, api_key());
}

// Every subcommand but `add` needs an existing database: opening a missing one would create it.
Result<std::unique_ptr<ix::DocIndex>> open_existing(const std::string& db) {
  std::error_code ec;
  if (!std::filesystem::exists(db, ec))
    return Status::NotFound(db + ": no such index database; create it with `plumb index add PATH --db " + db + "`");
  return ix::DocIndex::open(db);
}

int status_exit(const Status& s) {
  return s.code() == StatusCode::kNotFound ? kExitNotFound
         : s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
}

json hit_json(const ix::SearchHit& h, int rank) {
  json j = {{"rank", rank},         {"path", display_path(h.path)}, {"kind", h.kind},
            {"title", h.title},     {"heading", h.heading},         {"page", h.page},
            {"line_start", h.line_start}, {"line_end", h.line_end}, {"byte_start", h.byte_start},
            {"byte_end", h.byte_end}, {"score", h.score},           {"bm25", h.bm25},
            {"chunk_id", h.chunk_id}, {"text", h.text}};
  if (h.vector_rank > 0 || h.bm25_rank > 0) {
    j["bm25_rank"] = h.bm25_rank;
    j["vector_rank"] = h.vector_rank;
    j["cosine"] = h.cosine;
  }
  return j;
}

std::string location(const ix::SearchHit& h) {
  std::string s = display_path(h.path);
  if (h.page > 0) s += "  page " + std::to_string(h.page);
  else if (h.line_start > 0) s += ":" + std::to_string(h.line_start) + (h.line_end > h.line_start ? "-" + std::to_string(h.line_end) : "");
  return s;
}

std::string one_line(const std::string& text, size_t max) {
  std::string s;
  for (char c : text) s += (c == '\n' || c == '\t') ? ' ' : c;
  if (s.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
    s = s.substr(0, cut) + "…";
  }
  return s;
}

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  ~ProgressBar() { finish(); }
  void update(const ix::AddProgress& p) {
    if (!enabled_) return;
    // At most ~10 redraws a second; the last file always draws.
    if (drawn_ && p.files_done < p.files_total && p.elapsed_s - last_draw_s_ < 0.1) return;
    last_draw_s_ = p.elapsed_s;
    const int width = 28;
    const double frac = p.files_total > 0 ? double(p.files_done) / p.files_total : 1.0;
    const int filled = static_cast<int>(std::lround(frac * width));
    const double mbs = p.elapsed_s > 0 ? p.bytes_read / 1e6 / p.elapsed_s : 0.0;
    std::string name = std::filesystem::path(p.current_path).filename().string();
    if (name.size() > 28) name = name.substr(0, 27) + "…";
    std::fprintf(stderr, "\r\033[K[%s%s] %lld/%lld files  %lld chunks  %.1f MB/s  %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(p.files_done),
                 static_cast<long long>(p.files_total), static_cast<long long>(p.chunks_written), mbs, name.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  // Clears the bar so a message can be printed on a clean line.
  void clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
  }
  void finish() {
    clear();
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  double last_draw_s_ = 0;
};

int run_add(IndexArgs& a) {
  std::error_code ec;
  const auto parent = std::filesystem::path(a.db).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  // The embedder first: a bad --embed-model should not leave a new empty database behind.
  auto emb = make_embedder(a);
  if (!emb.ok()) { print_error("index add", emb.status().message()); return status_exit(emb.status()); }
  auto idx = ix::DocIndex::open(a.db, ix::IndexConfig{a.stem});
  if (!idx.ok()) { print_error("index add", idx.status().message()); return status_exit(idx.status()); }
  ProgressBar bar(stderr_is_terminal() && !a.quiet);
  ix::AddOptions o;
  o.include_globs = a.include;
  o.exclude_globs = a.exclude;
  o.prune = a.prune;
  o.chunking.chunk_tokens = a.chunk_tokens;
  o.chunking.overlap_tokens = a.overlap;
  o.embedder = emb->get();
  o.on_progress = [&](const ix::AddProgress& p) { bar.update(p); };
  bool missing_root = false;
  o.on_message = [&](const ix::IndexMessage& m) {
    if (m.text == "no such file or directory") missing_root = true;
    if (a.quiet && m.level != ix::IndexMessage::Level::kError) return;
    bar.clear();
    std::fprintf(stderr, "%s: %s: %s\n", std::string(ix::message_level_name(m.level)).c_str(),
                 display_path(m.path).c_str(), m.text.c_str());
  };
  auto rep = (*idx)->add(a.paths, o);
  bar.finish();
  if (!rep.ok()) { print_error("index add", rep.status().message()); return status_exit(rep.status()); }
  const auto& r = *rep;
  if (a.json_out) {
    json msgs = json::array();
    for (const auto& m : r.messages)
      msgs.push_back({{"level", ix::message_level_name(m.level)}, {"path", display_path(m.path)}, {"text", m.text}});
    json j = {{"db", a.db},
              {"files_seen", r.files_seen},
              {"files_added", r.files_added},
              {"files_updated", r.files_updated},
              {"files_unchanged", r.files_unchanged},
              {"files_skipped", r.files_skipped},
              {"files_failed", r.files_failed},
              {"files_pruned", r.files_pruned},
              {"files_read", r.files_read},
              {"chunks_written", r.chunks_written},
              {"bytes_read", r.bytes_read},
              {"seconds", r.seconds},
              {"messages", msgs}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s: %lld added, %lld updated, %lld unchanged, %lld skipped, %lld failed%s; %lld chunks written "
                "(%.1f MB read in %.2f s)\n",
                a.db.c_str(), static_cast<long long>(r.files_added), static_cast<long long>(r.files_updated),
                static_cast<long long>(r.files_unchanged), static_cast<long long>(r.files_skipped),
                static_cast<long long>(r.files_failed),
                r.files_pruned ? (", " + std::to_string(r.files_pruned) + " pruned").c_str() : "",
                static_cast<long long>(r.chunks_written), r.bytes_read / 1e6, r.seconds);
  }
  return missing_root ? kExitNotFound : kExitOk;
}

int run_list(IndexArgs& a) {
  auto idx = open_existing(a.db);
  if (!idx.ok()) { print_error("index list", idx.status().message()); return status_exit(idx.status()); }
  auto docs = (*idx)->list();
  if (!docs.ok()) { print_error("index list", docs.status().message()); return kExitError; }
  if (a.json_out) {
    json arr = json::array();
    for (const auto& d : *docs)
      arr.push_back({{"path", display_path(d.path)}, {"kind", d.kind}, {"title", d.title}, {"size", d.size},
                     {"chunks", d.chunks}, {"pages", d.pages}, {"hash", d.hash}, {"mtime_ns", d.mtime_ns}});
    std::cout << arr.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& d : *docs)
    std::printf("%-9s %6lld chunks %10lld bytes  %s\n", d.kind.c_str(), static_cast<long long>(d.chunks),
                static_cast<long long>(d.size), display_path(d.path).c_str());
  if (docs->empty()) std::printf("(the index %s is empty; add files with `plumb index add PATH`)\n", a.db.c_str());
  return kExitOk;
}

int run_rm(IndexArgs& a) {
  auto idx = open_existing(a.db);
  if (!idx.ok()) { print_error("index rm", idx.status().message()); return status_exit(idx.status()); }
  auto n = (*idx)->remove(a.rm_path);
  if (!n.ok()) { print_error("index rm", n.status().message()); return kExitError; }
  if (a.json_out) std::cout << json{{"removed", *n}}.dump() << "\n";
  else if (*n > 0) std::printf("removed %lld document%s\n", static_cast<long long>(*n), *n == 1 ? "" : "s");
  if (*n == 0) {
    print_error("index rm", a.rm_path + ": no indexed document at or under this path");
    return kExitNotFound;
  }
  return kExitOk;
}

int run_query(IndexArgs& a) {
  auto idx = open_existing(a.db);
  if (!idx.ok()) { print_error("index query", idx.status().message()); return status_exit(idx.status()); }
  auto emb = make_embedder(a);
  if (!emb.ok()) { print_error("index query", emb.status().message()); return status_exit(emb.status()); }
  ix::QueryOptions q;
  q.k = a.k;
  q.embedder = emb->get();
  auto hits = (*idx)->query(a.text, q);
  if (!hits.ok()) { print_error("index query", hits.status().message()); return status_exit(hits.status()); }
  if (a.json_out) {
    json arr = json::array();
    for (size_t i = 0; i < hits->size(); ++i) arr.push_back(hit_json((*hits)[i], static_cast<int>(i) + 1));
    std::cout << json{{"query", a.text}, {"fts_query", ix::fts_query_from_text(a.text)}, {"results", arr}}.dump(2) << "\n";
    return kExitOk;
  }
  if (hits->empty()) std::printf("no match for \"%s\" in %s\n", a.text.c_str(), a.db.c_str());
  for (size_t i = 0; i < hits->size(); ++i) {
    const auto& h = (*hits)[i];
    std::printf("%zu. %s  (score %.3f)\n", i + 1, location(h).c_str(), h.score);
    if (!h.heading.empty()) std::printf("   § %s\n", h.heading.c_str());
    std::printf("   %s\n", one_line(h.text, 300).c_str());
  }
  return kExitOk;
}

int run_stats(IndexArgs& a) {
  auto idx = open_existing(a.db);
  if (!idx.ok()) { print_error("index stats", idx.status().message()); return status_exit(idx.status()); }
  auto s = (*idx)->stats();
  if (!s.ok()) { print_error("index stats", s.status().message()); return kExitError; }
  json kinds = json::object();
  for (const auto& [k, n] : s->documents_by_kind) kinds[k] = n;
  if (a.json_out) {
    std::cout << json{{"db", a.db}, {"documents", s->documents}, {"chunks", s->chunks}, {"text_bytes", s->text_bytes},
                      {"source_bytes", s->source_bytes}, {"db_bytes", s->db_bytes},
                      {"embedded_chunks", s->embedded_chunks}, {"embed_model", s->embed_model},
                      {"embed_dim", s->embed_dim}, {"tokenizer", s->tokenizer}, {"documents_by_kind", kinds}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("database:   %s (%.1f MB)\n", a.db.c_str(), s->db_bytes / 1e6);
  std::printf("documents:  %lld", static_cast<long long>(s->documents));
  for (const auto& [k, n] : s->documents_by_kind) std::printf("  %s=%lld", k.c_str(), static_cast<long long>(n));
  std::printf("\nchunks:     %lld (%.1f MB of text from %.1f MB of files)\n", static_cast<long long>(s->chunks),
              s->text_bytes / 1e6, s->source_bytes / 1e6);
  std::printf("tokenizer:  %s\n", s->tokenizer.c_str());
  if (s->embedded_chunks > 0)
    std::printf("vectors:    %lld chunks, model %s, dimension %lld\n", static_cast<long long>(s->embedded_chunks),
                s->embed_model.c_str(), static_cast<long long>(s->embed_dim));
  else
    std::printf("vectors:    none (BM25 only)\n");
  return kExitOk;
}

int run_ask(IndexArgs& a) {
  if (!a.model.empty() && !a.api_base.empty()) {
    print_error("index ask", "-m MODEL and --api-base are alternatives; give one");
    return kExitUsage;
  }
  if (a.api_base.empty() != a.api_model.empty()) {
    print_error("index ask", "--api-base and --api-model go together");
    return kExitUsage;
  }
  auto idx = open_existing(a.db);
  if (!idx.ok()) { print_error("index ask", idx.status().message()); return status_exit(idx.status()); }
  auto emb = make_embedder(a);
  if (!emb.ok()) { print_error("index ask", emb.status().message()); return status_exit(emb.status()); }
  ix::QueryOptions q;
  q.k = a.k;
  q.embedder = emb->get();
  auto answer = [&]() -> Result<ix::Answer> {
  if (!a.model.empty()) {
    rag::GeneratorOptions go;
    go.n_ctx = a.ctx;
    go.n_threads = a.threads;
    go.n_predict = a.n_predict;
    go.temperature = a.temperature;
    go.chat_template = a.chat_template;
    PLUMB_ASSIGN_OR_RETURN(auto local, rag::LocalGenerator::load(a.model, go));
    return rag::answer_with_local_model(**idx, a.text, q, *local);
  }
  std::unique_ptr<ix::AnswerGenerator> gen;
  if (!a.api_base.empty()) gen = ix::make_openai_chat_generator(a.api_base, a.api_model, api_key());
  return ix::answer_question(**idx, a.text, q, gen.get());
  };
  auto ans = answer();
  if (!ans.ok()) { print_error("index ask", ans.status().message()); return status_exit(ans.status()); }
  if (a.json_out) {
    json src = json::array();
    for (size_t i = 0; i < ans->sources.size(); ++i) src.push_back(hit_json(ans->sources[i], static_cast<int>(i) + 1));
    json j = {{"question", a.text}, {"answer", ans->text}, {"extractive", ans->extractive}, {"sources", src}};
    if (!ans->extractive) j["prompt"] = ans->prompt;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%s\n", ans->text.c_str());
  if (!ans->sources.empty()) {
    std::printf("\nSources:\n");
    for (size_t i = 0; i < ans->sources.size(); ++i) {
      ix::SearchHit h = ans->sources[i];
      h.path = display_path(h.path);
      std::printf("[%zu] %s\n", i + 1, ix::format_source(h).c_str());
    }
  }
  return kExitOk;
}

const CommandRegistration kRegistration{
    "index", 60, "Index your documents (text, Markdown, HTML, PDF, CSV, images via OCR) and search them",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<IndexArgs>();
      sub.require_subcommand(1);
      sub.footer(
          "Examples:\n"
          "  plumb index add docs/ notes.pdf --db my.db      # index a folder and a file\n"
          "  plumb index add ~/papers --include '*.pdf' --prune\n"
          "  plumb index query \"how are tensors checked\" --db my.db -k 3\n"
          "  plumb index ask \"what is the refund policy?\" --db my.db\n"
          "  plumb index ask \"...\" --api-base http://localhost:8080/v1 --api-model qwen2.5\n"
          "  plumb index ask \"...\" -m qwen2.5-0.5b-instruct-q8_0.gguf    # answer with a local model\n"
          "  plumb index add docs/ --embed-model model.gguf; plumb index query \"...\" --embed-model model.gguf\n"
          "  plumb index list --json; plumb index stats; plumb index rm old/ --db my.db\n"
          "The database is one SQLite file (default ./plumb.db). See docs/index.md.");

      CLI::App* add = sub.add_subcommand("add", "Index files and folders (incremental: unchanged files are not read)");
      add->add_option("paths", a->paths, "files or folders (recursive; hidden entries skipped)")->required();
      add_db_option(add, *a);
      add->add_option("--include", a->include, "only files matching this glob (repeatable), e.g. '*.md'");
      add->add_option("--exclude", a->exclude, "skip files/folders matching this glob (repeatable)");
      add->add_flag("--prune", a->prune, "drop indexed documents under PATH whose files are gone");
      add->add_option("--chunk-tokens", a->chunk_tokens, "words per chunk at most")->capture_default_str();
      add->add_option("--overlap", a->overlap, "words shared by consecutive windows of a long section")
          ->capture_default_str();
      add->add_flag("--stem", a->stem, "Porter stemming (English); only when the database is created");
      add->add_flag("-q,--quiet", a->quiet, "print only errors and the summary");
      add_embed_options(add, *a);
      add->add_flag("--json", a->json_out, "print the report as JSON");
      add->footer("Examples:\n  plumb index add docs --db build/docs.db\n"
                  "  plumb index add . --include '*.md' --exclude 'build*' --prune --json");

      CLI::App* list = sub.add_subcommand("list", "List indexed documents");
      add_db_option(list, *a);
      list->add_flag("--json", a->json_out, "print JSON");
      list->footer("Examples:\n  plumb index list --db docs.db --json");

      CLI::App* rm = sub.add_subcommand("rm", "Remove a document, or every document under a folder");
      rm->add_option("path", a->rm_path, "indexed file or folder")->required();
      add_db_option(rm, *a);
      rm->add_flag("--json", a->json_out, "print JSON");
      rm->footer("Examples:\n  plumb index rm docs/old.md --db docs.db");

      CLI::App* query = sub.add_subcommand("query", "Search the index with natural language (BM25, or hybrid)");
      query->add_option("text", a->text, "what to look for")->required();
      add_db_option(query, *a);
      query->add_option("-k", a->k, "number of results")->capture_default_str()->check(CLI::Range(1, 1000));
      add_embed_options(query, *a);
      query->add_flag("--json", a->json_out, "print JSON");
      query->footer("Examples:\n  plumb index query \"how are tensors checked\" --db docs.db\n"
                    "  plumb index query \"invoice total\" -k 10 --json");

      CLI::App* stats = sub.add_subcommand("stats", "Counts, sizes, tokenizer and vector settings of the index");
      add_db_option(stats, *a);
      stats->add_flag("--json", a->json_out, "print JSON");
      stats->footer("Examples:\n  plumb index stats --db docs.db --json");

      CLI::App* ask = sub.add_subcommand("ask", "Answer a question from the index, citing sources [1], [2], ...");
      ask->add_option("question", a->text, "the question")->required();
      add_db_option(ask, *a);
      ask->add_option("-k", a->k, "passages to retrieve")->capture_default_str()->check(CLI::Range(1, 50));
      ask->add_option("-m,--model", a->model, "local GGUF model that writes the answer (in-process)");
      ask->add_option("-n,--n-predict", a->n_predict, "-m: answer tokens at most")->capture_default_str()
          ->check(CLI::Range(1, 1 << 20));
      ask->add_option("-t,--threads", a->threads, "-m: threads (default: all cores)");
      ask->add_option("-c,--ctx-size", a->ctx, "-m: context size in tokens (default: the model's, at most 4096); "
                                                "passages are shortened to fit");
      ask->add_option("--temp", a->temperature, "-m: temperature; 0 = greedy")->capture_default_str();
      ask->add_option("--chat-template", a->chat_template,
                      "-m: template family when the model's own is not recognised (chatml, llama3, ...); without "
                      "one a model with no recognised template gets a plain prompt");
      ask->add_option("--api-base", a->api_base, "OpenAI-compatible server, e.g. http://localhost:8080/v1");
      ask->add_option("--api-model", a->api_model, "model name for --api-base");
      add_embed_options(ask, *a);
      ask->add_flag("--json", a->json_out, "print JSON");
      ask->footer("Without a model, answers with the best passages (extractive).  API key: $PLUMB_API_KEY or "
                  "$OPENAI_API_KEY.\nExamples:\n  plumb index ask \"which page covers refunds?\" --db docs.db\n"
                  "  plumb index ask \"summarise the install steps\" --api-base http://localhost:8080/v1 "
                  "--api-model local\n"
                  "  plumb index ask \"how do I install it?\" -m qwen2.5-0.5b-instruct-q8_0.gguf -n 200 --json");

      return [a, add, list, rm, query, stats, ask]() -> int {
        if (add->parsed()) return run_add(*a);
        if (list->parsed()) return run_list(*a);
        if (rm->parsed()) return run_rm(*a);
        if (query->parsed()) return run_query(*a);
        if (stats->parsed()) return run_stats(*a);
        if (ask->parsed()) return run_ask(*a);
        return kExitUsage;
      };
    }};

}  // namespace
}  // namespace plumb::app
