// Loaders and their helpers, each against hand-computed expectations.
#include <gtest/gtest.h>

#include "index/fixtures.h"
#include "index/loader.h"

namespace plumb::index {
namespace {

TEST(Utf8Repair, ValidInputIsUnchangedAndBomDropped) {
  std::string w;
  EXPECT_EQ(repair_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80", &w), "h\xC3\xA9llo \xF0\x9F\x98\x80");
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(repair_utf8("\xEF\xBB\xBFhi", &w), "hi");
}

TEST(Utf8Repair, Latin1FallbackAndReplacement) {
  std::string w;
  EXPECT_EQ(repair_utf8("caf\xE9", &w), "caf\xC3\xA9");
  EXPECT_EQ(w, "not valid UTF-8 (1 bytes); decoded as Latin-1");
  // Mixed: valid multibyte present, so the stray byte (and the overlong, and the surrogate)
  // become U+FFFD each.
  EXPECT_EQ(repair_utf8("\xC3\xA9 \xFF \xC0\xAF", &w), "\xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(w, "3 invalid UTF-8 bytes replaced with U+FFFD");
  EXPECT_EQ(repair_utf8("\xC3\xA9\xED\xA0\x80", &w), "\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // Truncated sequence at the end.
  EXPECT_EQ(repair_utf8("\xC3\xA9\xE2\x82", &w), "\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(DetectKind, ExtensionThenMagic) {
  EXPECT_EQ(detect_kind("a/b.MD", ""), "markdown");
  EXPECT_EQ(detect_kind("x.htm", ""), "html");
  EXPECT_EQ(detect_kind("x.tsv", ""), "csv");
  EXPECT_EQ(detect_kind("x.JPEG", ""), "image");
  EXPECT_EQ(detect_kind("x.txt", "plain"), "text");
  EXPECT_EQ(detect_kind("x.txt", std::string("a\0b", 3)), "");
  EXPECT_EQ(detect_kind("README", "hello"), "text");
  EXPECT_EQ(detect_kind("scan", "%PDF-1.7 ..."), "pdf");
  EXPECT_EQ(detect_kind("photo.dat", "\x89PNG\r\n\x1a\n...."), "image");
  EXPECT_EQ(detect_kind("index", "<!DOCTYPE html><html>"), "html");
  EXPECT_EQ(detect_kind("prog.exe", "MZ\x90"), "");
  EXPECT_EQ(detect_kind(".hidden.cpp", "int main"), "");
}

TEST(TextLoader, ParagraphsWithLineAndByteRanges) {
  const std::string src = "first line\nsecond line\n\n  \nthird para\n";
  auto d = load_text(src, "t.txt");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->sections.size(), 2u);
  EXPECT_EQ(d->sections[0].text, "first line\nsecond line");
  EXPECT_EQ(d->sections[0].line_start, 1);
  EXPECT_EQ(d->sections[0].line_end, 2);
  EXPECT_EQ(d->sections[0].byte_start, 0);
  EXPECT_EQ(d->sections[0].byte_end, 22);
  EXPECT_EQ(d->sections[1].text, "third para");
  EXPECT_EQ(d->sections[1].line_start, 5);
  EXPECT_EQ(src.substr(d->sections[1].byte_start, d->sections[1].byte_end - d->sections[1].byte_start), "third para");
}

TEST(MarkdownLoader, HeadingPathsFencesAndSetext) {
  const std::string src =
      "Title Here\n==========\n\nintro\n\n## Part A\ntext a\n```\n# not a heading\n```\n\n### Sub\ndeep\n\n## Part B\nb\n";
  auto d = load_markdown(src, "m.md");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->title, "Title Here");
  ASSERT_EQ(d->sections.size(), 4u);
  EXPECT_EQ(d->sections[0].text, "intro");
  EXPECT_EQ(d->sections[0].heading, "Title Here");
  EXPECT_EQ(d->sections[1].heading, "Title Here > Part A");
  EXPECT_EQ(d->sections[1].text, "text a\n```\n# not a heading\n```");
  EXPECT_EQ(d->sections[1].line_start, 7);
  EXPECT_EQ(d->sections[1].line_end, 10);
  EXPECT_EQ(d->sections[2].heading, "Title Here > Part A > Sub");
  EXPECT_EQ(d->sections[3].heading, "Title Here > Part B");  // Sub is closed by a level-2 heading
}

TEST(HtmlLoader, DropsScriptsKeepsTitleHeadingsAndLines) {
  const std::string src =
      "<html><head><title> My  Page </title><script>var x='hidden';</script></head>\n"
      "<body><h1>Top</h1>\n<p>Alpha &amp; beta.</p>\n<style>p{}</style><div>Gamma<br>delta</div>"
      "<h2>Second</h2><ul><li>one</li><li>two</li></ul></body></html>";
  auto d = load_html(src, "p.html");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->title, "My Page");
  std::vector<std::string> texts;
  for (const auto& s : d->sections) texts.push_back(s.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"Alpha & beta.", "Gamma", "delta", "one", "two"}));
  EXPECT_EQ(d->sections[0].heading, "Top");
  EXPECT_EQ(d->sections[0].line_start, 3);
  EXPECT_EQ(d->sections[3].heading, "Top > Second");
}

TEST(HtmlLoader, DeepNestingDoesNotOverflowTheStack) {
  std::string src;
  for (int i = 0; i < 3000; ++i) src += "<span>";  // gumbo itself is quadratic in depth
  src += "deep";
  auto d = load_html(src, "deep.html");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->sections.size(), 1u);
  EXPECT_EQ(d->sections[0].text, "deep");
}

TEST(CsvLoader, QuotesNewlinesHeaderAndRanges) {
  const std::string src =
      "name,\"qty, units\",note\r\n"
      "apple,3,\"says \"\"hi\"\"\"\r\n"
      "pear,,\"two\nlines\"\n"
      "\n"
      "fig,1,extra,overflow\n";
  auto d = load_csv(src, "c.csv");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->sections.size(), 3u);
  EXPECT_EQ(d->sections[0].text, "name: apple\nqty, units: 3\nnote: says \"hi\"");
  EXPECT_EQ(d->sections[0].line_start, 2);
  EXPECT_EQ(d->sections[1].text, "name: pear\nnote: two lines");
  EXPECT_EQ(d->sections[1].line_start, 3);
  EXPECT_EQ(d->sections[1].line_end, 4);
  EXPECT_EQ(d->sections[2].text, "name: fig\nqty, units: 1\nnote: extra\ncolumn 4: overflow");
  EXPECT_EQ(d->sections[2].line_start, 6);
}

TEST(CsvLoader, SemicolonsTabsAndUnterminatedQuote) {
  auto d = load_csv("a;b\n1;2\n", "s.csv");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->sections.size(), 1u);
  EXPECT_EQ(d->sections[0].text, "a: 1\nb: 2");
  d = load_csv("a\tb\nx\ty\n", "t.tsv");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->sections[0].text, "a: x\nb: y");
  d = load_csv("a,b\n\"open,2\n", "u.csv");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->warnings.size(), 1u);
  EXPECT_EQ(d->warnings[0], "a quoted field is not closed before the end of the file");
}

TEST(PdfLoader, PagesAndTitle) {
  const std::string pdf = test::make_pdf({{"alpha page"}, {"beta (page) two"}, {}}, "Doc Title");
  auto d = load_pdf(pdf, "x.pdf");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->pages, 3);
  EXPECT_EQ(d->title, "Doc Title");
  ASSERT_EQ(d->sections.size(), 2u);  // the empty third page has no section
  EXPECT_EQ(d->sections[0].page, 1);
  EXPECT_EQ(d->sections[1].page, 2);
  EXPECT_NE(d->sections[1].text.find("beta (page) two"), std::string::npos) << d->sections[1].text;
}

TEST(PdfLoader, EveryTruncatedPrefixFailsCleanlyOrLoads) {
  const std::string pdf = test::make_pdf({{"alpha"}, {"beta"}});
  for (size_t n = 0; n < pdf.size(); n += 7) {
    auto d = load_pdf(std::string_view(pdf).substr(0, n), "t.pdf");
    if (!d.ok()) EXPECT_TRUE(d.status().code() == StatusCode::kCorrupt) << n << ": " << d.status().to_string();
  }
  auto d = load_pdf("not a pdf", "n.pdf");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "n.pdf: not a PDF (no '%PDF-' header in the first 1024 bytes)");
}

TEST(ImageLoader, RejectsGarbageAndHugeHeaders) {
  auto d = load_image("garbage garbage", "g.png");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "g.png: not a readable PNG/JPEG/TIFF image (bad header)");
  // A well-formed PNG header (valid CRC) claiming 100000 x 100000 pixels.
  std::string ihdr("IHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x00\x00\x00\x00", 17);
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : ihdr) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xFFFFFFFFu;
  std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\x0d", 12) + ihdr;
  for (int k = 3; k >= 0; --k) png += static_cast<char>((crc >> (8 * k)) & 0xFF);
  png += std::string(64, '\0');
  d = load_image(png, "huge.png");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnsupported) << d.status().to_string();
}

}  // namespace
}  // namespace plumb::index
