// End to end over a corpus the test writes: every supported format, a table of questions that
// must find the right chunk at rank 1 (source and page), incremental re-runs, edits, prune, and
// malformed inputs that are skipped or repaired with a message.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "index/fixtures.h"
#include "plumb/doc_index.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

namespace fs = std::filesystem;
using plumb::test::TempDir;
using plumb::test::write_file;

void write_corpus(const fs::path& dir) {
  write_file((dir / "notes.txt").string(),
             "Meeting notes from the spring planning session.\n"
             "We agreed to move the weekly sync to Thursdays.\n\n"
             "The backup server lives in rack twelve and is rebooted every Sunday at 03:00.\n"
             "Its disks are mirrored.\n\n"
             "Lunch options near the office include a noodle bar and a falafel stand.\n");
  write_file((dir / "guide.md").string(),
             "# Gardening Guide\n\n"
             "A short guide for balcony gardens.\n\n"
             "## Watering\n\n"
             "Tomatoes need deep watering twice a week; shallow daily watering weakens the roots.\n\n"
             "## Soil\n\n"
             "Use a loose potting mix with compost. Add perlite for drainage in large containers.\n\n"
             "### Acidity\n\n"
             "Blueberries prefer acidic soil with a pH between 4.5 and 5.5.\n");
  write_file((dir / "page.html").string(),
             "<!doctype html><html><head><title>Lighthouse History</title>"
             "<style>body { color: saffron; }</style>"
             "<script>var secret = 'marmalade hidden in a script';</script></head>"
             "<body><h1>Lighthouses</h1><p>The Bell Rock lighthouse was completed in 1810 off the coast of Angus.</p>"
             "<h2>Keepers</h2><p>Keepers trimmed the wicks every four hours through the night.</p>"
             "</body></html>");
  write_file((dir / "report.pdf").string(),
             test::make_pdf({{"Annual Report", "Introduction and overview of the year."},
                             {"Regional results", "The Zanzibar office reported revenue of 4.2 million dollars.",
                              "Growth came from new shipping contracts."},
                             {"Outlook", "Next year we plan to open an office in Reykjavik."}},
                            "Annual Report"));
  write_file((dir / "planets.csv").string(),
             "name,moons,notes\n"
             "Mercury,0,closest to the sun\n"
             "Jupiter,95,\"largest planet, with a \"\"great red spot\"\"\"\n"
             "Saturn,146,\"famous rings\nmade of ice\"\n");
  ASSERT_TRUE(test::write_text_png((dir / "receipt.png").string(),
                                   {"GROCERY RECEIPT", "PAPAYA 3.20", "TOTAL 42.50"}));
}

struct Question {
  const char* text;
  const char* file;     // expected source file name at rank 1
  int page;             // expected page (0: none)
  const char* snippet;  // must appear in the rank-1 chunk
};

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_ = dir_.path() / "corpus";
    fs::create_directories(corpus_);
    write_corpus(corpus_);
    db_path_ = dir_.file("index.db");
    auto idx = DocIndex::open(db_path_);
    ASSERT_TRUE(idx.ok()) << idx.status().to_string();
    index_ = std::move(*idx);
  }

  AddReport add_all(AddOptions o = {}) {
    auto r = index_->add({corpus_.string()}, o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : AddReport{};
  }

  std::map<std::string, std::vector<int64_t>> chunk_ids() {
    std::map<std::string, std::vector<int64_t>> out;
    for (const char* q : {"the", "a", "and", "of", "GROCERY", "Mercury", "Tomatoes"}) {
      auto hits = index_->query(q, QueryOptions{.k = 100});
      EXPECT_TRUE(hits.ok());
      for (const auto& h : *hits) out[fs::path(h.path).filename().string()].push_back(h.chunk_id);
    }
    for (auto& [k, v] : out) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    }
    return out;
  }

  TempDir dir_;
  fs::path corpus_;
  std::string db_path_;
  std::unique_ptr<DocIndex> index_;
};

TEST_F(CorpusTest, QuestionsFindTheExpectedChunkAtRankOne) {
  AddReport r = add_all();
  EXPECT_EQ(r.files_seen, 6);
  EXPECT_EQ(r.files_added, 6);
  EXPECT_EQ(r.files_failed, 0);
  const Question questions[] = {
      {"When is the backup server rebooted?", "notes.txt", 0, "rack twelve"},
      {"How often should tomatoes be watered?", "guide.md", 0, "deep watering"},
      {"What pH do blueberries need?", "guide.md", 0, "Blueberries"},
      {"When was the Bell Rock lighthouse completed?", "page.html", 0, "1810"},
      {"What revenue did the Zanzibar office report?", "report.pdf", 2, "4.2 million"},
      {"Where will the new office open next year?", "report.pdf", 3, "Reykjavik"},
      {"How many moons does Jupiter have?", "planets.csv", 0, "moons: 95"},
      {"What are Saturn's rings made of?", "planets.csv", 0, "name: Saturn"},
      {"papaya receipt total", "receipt.png", 0, "PAPAYA"},
  };
  for (const auto& q : questions) {
    auto hits = index_->query(q.text, QueryOptions{.k = 5});
    ASSERT_TRUE(hits.ok()) << q.text << ": " << hits.status().to_string();
    ASSERT_FALSE(hits->empty()) << q.text;
    const SearchHit& top = hits->front();
    EXPECT_EQ(fs::path(top.path).filename().string(), q.file) << q.text;
    EXPECT_EQ(top.page, q.page) << q.text;
    EXPECT_NE(top.text.find(q.snippet), std::string::npos) << q.text << " -> " << top.text;
  }
}

TEST_F(CorpusTest, ChunksKeepStructureAndPositions) {
  add_all();
  auto hits = index_->query("blueberries acidic", QueryOptions{.k = 1});
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].heading, "Gardening Guide > Soil > Acidity");
  EXPECT_EQ((*hits)[0].title, "Gardening Guide");
  EXPECT_EQ((*hits)[0].line_start, 15);
  EXPECT_EQ((*hits)[0].line_end, 15);

  hits = index_->query("Bell Rock", QueryOptions{.k = 1});
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].title, "Lighthouse History");
  EXPECT_EQ((*hits)[0].heading, "Lighthouses");

  // Script and style content is not indexed.
  hits = index_->query("marmalade saffron", QueryOptions{.k = 5});
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());

  auto docs = index_->list();
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 6u);
  for (const auto& d : *docs)
    if (d.kind == "pdf") {
      EXPECT_EQ(d.pages, 3);
      EXPECT_EQ(d.title, "Annual Report");
    }
}

TEST_F(CorpusTest, UnchangedRerunReadsNoFileAndEditUpdatesOnlyThatFile) {
  add_all();
  const auto before = chunk_ids();
  AddReport again = add_all();
  EXPECT_EQ(again.files_read, 0);
  EXPECT_EQ(again.files_unchanged, 6);
  EXPECT_EQ(again.chunks_written, 0);

  // Edit one file (and make sure its mtime moves even on coarse file systems).
  const fs::path notes = corpus_ / "notes.txt";
  write_file(notes.string(), "The backup server moved to rack fourteen.\n");
  fs::last_write_time(notes, fs::last_write_time(notes) + std::chrono::seconds(2));
  AddReport edit = add_all();
  EXPECT_EQ(edit.files_read, 1);
  EXPECT_EQ(edit.files_updated, 1);
  EXPECT_EQ(edit.files_unchanged, 5);
  const auto after = chunk_ids();
  for (const auto& [file, ids] : before)
    if (file != "notes.txt") EXPECT_EQ(after.at(file), ids) << file;
  auto hits = index_->query("backup server rack", QueryOptions{.k = 5});
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE(hits->empty());
  EXPECT_NE(hits->front().text.find("fourteen"), std::string::npos);
  for (const auto& h : *hits) EXPECT_EQ(h.text.find("twelve"), std::string::npos) << "stale chunk left behind";

  // Touched but identical content: read once (hash), nothing rewritten, and not read again.
  fs::last_write_time(notes, fs::last_write_time(notes) + std::chrono::seconds(2));
  AddReport touched = add_all();
  EXPECT_EQ(touched.files_read, 1);
  EXPECT_EQ(touched.chunks_written, 0);
  EXPECT_EQ(add_all().files_read, 0);
}

TEST_F(CorpusTest, PruneDropsDeletedFilesAndRemoveWorksOnFolders) {
  add_all();
  fs::remove(corpus_ / "guide.md");
  AddReport no_prune = add_all();
  EXPECT_EQ(no_prune.files_pruned, 0);
  AddOptions o;
  o.prune = true;
  AddReport pruned = add_all(o);
  EXPECT_EQ(pruned.files_pruned, 1);
  auto hits = index_->query("tomatoes watering", QueryOptions{});
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());

  auto n = index_->remove((corpus_ / "planets.csv").string());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  n = index_->remove(corpus_.string());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4);
  auto st = index_->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->documents, 0);
  EXPECT_EQ(st->chunks, 0);
}

TEST_F(CorpusTest, IncludeAndExcludeGlobs) {
  AddOptions o;
  o.include_globs = {"*.md", "*.txt"};
  AddReport r = add_all(o);
  EXPECT_EQ(r.files_seen, 2);
  AddOptions e;
  e.exclude_globs = {"*.png", "*.pdf"};
  r = add_all(e);
  EXPECT_EQ(r.files_seen, 4);
}

TEST(CorpusMalformed, BrokenFilesAreReportedAndSkippedNonUtf8IsRepaired) {
  TempDir dir;
  const fs::path c = dir.path() / "bad";
  fs::create_directories(c);
  write_file((c / "broken.pdf").string(), "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage");
  write_file((c / "truncated.pdf").string(), test::make_pdf({{"hello"}}).substr(0, 60));
  write_file((c / "broken.png").string(), std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDRjunkjunk", 24));
  write_file((c / "fake.jpg").string(), "this is not a jpeg at all");
  write_file((c / "tags.html").string(), "<html><body><p>unclosed <b>bold <i>italic <div></span></table>quokka");
  write_file((c / "latin1.txt").string(), "Caf\xE9 cr\xE8me br\xFBl\xE9" "e recipe\n");
  write_file((c / "mixed.txt").string(), "na\xC3\xAFve text with a stray \xFF byte about wombats\n");
  write_file((c / "blob.bin").string(), std::string("\x01\x02\x00\x03", 4));
  auto idx = DocIndex::open(dir.file("bad.db"));
  ASSERT_TRUE(idx.ok());
  std::vector<IndexMessage> seen;
  AddOptions o;
  o.on_message = [&](const IndexMessage& m) { seen.push_back(m); };
  auto r = (*idx)->add({c.string()}, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->files_seen, 8);
  EXPECT_EQ(r->files_failed, 4);  // two PDFs, two images
  EXPECT_EQ(r->files_skipped, 1);  // blob.bin
  EXPECT_EQ(r->files_added, 3);
  auto message_for = [&](const std::string& name) {
    std::string all;
    for (const auto& m : seen)
      if (fs::path(m.path).filename() == name) all += std::string(message_level_name(m.level)) + ": " + m.text + "\n";
    return all;
  };
  EXPECT_NE(message_for("broken.pdf").find("error: skipped"), std::string::npos) << message_for("broken.pdf");
  EXPECT_NE(message_for("truncated.pdf").find("error: skipped"), std::string::npos);
  EXPECT_NE(message_for("broken.png").find("error: skipped"), std::string::npos) << message_for("broken.png");
  EXPECT_NE(message_for("fake.jpg").find("not a readable"), std::string::npos) << message_for("fake.jpg");
  EXPECT_NE(message_for("latin1.txt").find("decoded as Latin-1"), std::string::npos);
  EXPECT_NE(message_for("mixed.txt").find("1 invalid UTF-8 bytes replaced"), std::string::npos);
  EXPECT_NE(message_for("blob.bin").find("unknown file type"), std::string::npos);

  auto hits = (*idx)->query("creme brulee", QueryOptions{});  // diacritics folded both ways
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE(hits->front().text.find("Caf\xC3\xA9 cr\xC3\xA8me"), std::string::npos);
  hits = (*idx)->query("wombats", QueryOptions{});
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE(hits->front().text.find("\xEF\xBF\xBD"), std::string::npos);
  hits = (*idx)->query("quokka", QueryOptions{});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);
}

}  // namespace
}  // namespace plumb::index
