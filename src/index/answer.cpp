// `ask`: retrieval, then either a generated answer citing numbered passages or, with no
// generator, an extractive answer made of each passage's most relevant sentences.
#include <algorithm>
#include <set>
#include <sstream>

#include "plumb/doc_index.h"

namespace plumb::index {
namespace {

constexpr size_t kMaxPassageChars = 1500;   // per passage in a prompt
constexpr size_t kExtractiveChars = 400;    // per passage in an extractive answer

std::set<std::string> query_terms(const std::string& q) {
  // Reuse the FTS sanitiser's notion of a term: the quoted words of its output.
  std::set<std::string> terms;
  const std::string fts = fts_query_from_text(q);
  for (size_t i = 0; i < fts.size();) {
    size_t a = fts.find('"', i);
    if (a == std::string::npos) break;
    size_t b = fts.find('"', a + 1);
    if (b == std::string::npos) break;
    terms.insert(fts.substr(a + 1, b - a - 1));
    i = b + 1;
  }
  return terms;
}

std::vector<std::string> split_sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    cur += c == '\n' ? ' ' : c;
    const bool end = (c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n');
    const bool para = c == '\n' && i + 1 < text.size() && text[i + 1] == '\n';
    if (end || para || c == '\n') {
      if (cur.find_first_not_of(' ') != std::string::npos) out.push_back(cur);
      cur.clear();
    }
  }
  if (cur.find_first_not_of(' ') != std::string::npos) out.push_back(cur);
  for (auto& s : out) {
    size_t a = s.find_first_not_of(' ');
    size_t b = s.find_last_not_of(' ');
    s = s.substr(a, b - a + 1);
  }
  return out;
}

// Words of `s`, lowercased.
std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> w;
  std::string cur;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c >= 0x80) cur += static_cast<char>(std::tolower(c));
    else if (!cur.empty()) { w.push_back(cur); cur.clear(); }
  }
  if (!cur.empty()) w.push_back(cur);
  return w;
}

// The passage's sentences that share the most terms with the question, in their original
// order, up to kExtractiveChars.
std::string best_sentences(const std::string& text, const std::set<std::string>& terms) {
  const std::vector<std::string> sents = split_sentences(text);
  std::vector<std::pair<int, size_t>> scored;
  for (size_t i = 0; i < sents.size(); ++i) {
    int score = 0;
    for (const auto& w : words_of(sents[i]))
      for (const auto& t : terms)
        if (w == t || (t.size() >= 4 && w.compare(0, t.size(), t) == 0)) { ++score; break; }
    scored.emplace_back(score, i);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> chosen;
  size_t len = 0;
  for (const auto& [score, i] : scored) {
    if (score == 0 && !chosen.empty()) break;
    if (len > 0 && len + sents[i].size() > kExtractiveChars) break;
    chosen.push_back(i);
    len += sents[i].size() + 1;
  }
  std::sort(chosen.begin(), chosen.end());
  std::string out;
  for (size_t k = 0; k < chosen.size(); ++k) {
    if (k > 0) out += chosen[k] == chosen[k - 1] + 1 ? " " : " … ";
    out += sents[chosen[k]];
  }
  if (out.size() > kExtractiveChars + 200) out = out.substr(0, kExtractiveChars) + "…";
  return out;
}

}  // namespace

std::string format_source(const SearchHit& h) {
  std::ostringstream os;
  os << h.path;
  if (h.page > 0) os << ", page " << h.page;
  else if (h.line_start > 0 && h.line_end > h.line_start) os << ", lines " << h.line_start << "-" << h.line_end;
  else if (h.line_start > 0) os << ", line " << h.line_start;
  if (!h.heading.empty()) os << " (" << h.heading << ")";
  return os.str();
}

std::string build_answer_prompt(const std::string& question, const std::vector<SearchHit>& hits) {
  std::ostringstream os;
  os << "Answer the question using only the numbered passages below. Cite the passages you use as [1], [2], ... "
        "right after the statement they support. If the passages do not contain the answer, say so. "
        "Feel free to ignore irrelevant information in the passages.\n\n";
  for (size_t i = 0; i < hits.size(); ++i) {
    std::string text = hits[i].text;
    if (text.size() > kMaxPassageChars) text = text.substr(0, kMaxPassageChars) + " …";
    os << "[" << i + 1 << "] (" << format_source(hits[i]) << ")\n" << text << "\n\n";
  }
  os << "Question: " << question << "\nAnswer:";
  return os.str();
}

Result<Answer> answer_question(DocIndex& index, const std::string& question, const QueryOptions& options,
                               AnswerGenerator* generator) {
  Answer a;
  PLUMB_ASSIGN_OR_RETURN(a.sources, index.query(question, options));
  if (a.sources.empty()) {
    a.text = "No passage in the index matches the question.";
    return a;
  }
  if (generator) {
    a.extractive = false;
    a.prompt = build_answer_prompt(question, a.sources);
    PLUMB_ASSIGN_OR_RETURN(a.text, generator->generate(a.prompt));
    return a;
  }
  const auto terms = query_terms(question);
  std::ostringstream os;
  for (size_t i = 0; i < a.sources.size(); ++i) {
    if (i > 0) os << "\n";
    os << "[" << i + 1 << "] " << best_sentences(a.sources[i].text, terms) << "\n";
  }
  a.text = os.str();
  return a;
}

}  // namespace plumb::index
