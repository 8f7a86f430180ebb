// Natural language to a safe FTS5 MATCH expression.  Every term is a double-quoted string
// containing only letters and digits, so no user input can reach FTS5's query syntax.
#include <algorithm>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "index/fts_query.h"
#include "plumb/doc_index.h"

namespace plumb::index {
namespace {

constexpr size_t kMaxTerms = 32;

const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words = {
      "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
      "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
      "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
      "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
      "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once",
      "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some",
      "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
      "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
      "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
      "tell", "please", "show", "find", "give", "list", "explain", "describe", "get", "s", "t", "much", "many"};
  return words;
}

// A crude suffix strip, used only to add a prefix term: "checked" also finds "check*".
std::string light_stem(const std::string& w) {
  auto ends = [&](const char* s) {
    const size_t n = std::char_traits<char>::length(s);
    return w.size() > n && w.compare(w.size() - n, n, s) == 0;
  };
  std::string s = w;
  if (ends("sses")) s = w.substr(0, w.size() - 2);
  else if (ends("ies")) s = w.substr(0, w.size() - 3);
  else if (ends("ing")) s = w.substr(0, w.size() - 3);
  else if (ends("ed")) s = w.substr(0, w.size() - 2);
  else if (ends("es") && !ends("ses")) s = w.substr(0, w.size() - 2);
  else if (ends("s") && !ends("ss") && !ends("us")) s = w.substr(0, w.size() - 1);
  return s.size() >= 3 ? s : w;
}

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

}  // namespace

std::vector<FtsTerm> fts_terms_from_text(std::string_view text) {
  std::vector<std::string> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    size_t b = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > b) {
      std::string w(text.substr(b, i - b));
      for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      words.push_back(std::move(w));
    }
  }
  std::vector<std::string> kept;
  for (const auto& w : words)
    if (!stop_words().count(w)) kept.push_back(w);
  if (kept.empty()) kept = words;  // "to be or not to be" is still a query
  std::vector<FtsTerm> terms;
  std::set<std::string> seen;
  for (const auto& w : kept) {
    if (terms.size() >= kMaxTerms) break;
    if (seen.insert(w).second) terms.push_back({w, false});
    const bool ascii = std::all_of(w.begin(), w.end(), [](unsigned char c) { return c < 0x80; });
    std::string stem = ascii ? light_stem(w) : w;
    if (stem != w && seen.insert(stem + "*").second) terms.push_back({stem, true});
  }
  return terms;
}

std::string join_fts_terms(const std::vector<FtsTerm>& terms) {
  std::string out;
  for (const auto& t : terms) {
    if (!out.empty()) out += " OR ";
    out += t.expr();
  }
  return out;
}

std::string fts_query_from_text(std::string_view text) { return join_fts_terms(fts_terms_from_text(text)); }

}  // namespace plumb::index
