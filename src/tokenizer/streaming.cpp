// StreamingDetokenizer: re-detokenizes a short window of recent tokens and returns only
// text that later tokens cannot change: complete UTF-8 characters, and (for vocabularies
// that clean up spaces before punctuation) nothing from a space among the last 4 bytes on.
#include "plumb/tokenizer.h"
#include "tokenizer/unicode.h"

namespace plumb {

namespace {
constexpr size_t kWindowTokens = 16;  // tokens kept before a window may be closed
constexpr size_t kCleanupReach = 4;   // bytes after a space that space clean-up looks at
}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tok, bool render_special)
    : tok_(tok), render_special_(render_special) {}

std::string StreamingDetokenizer::take(bool final) {
  const std::string text = first_ ? tok_.detokenize(ids_, render_special_)
                                  : tok_.detokenize_continuation(ids_, render_special_);
  size_t stable = final ? text.size() : tok::utf8_complete_prefix(text);
  if (!final && tok_.cleans_spaces()) {
    const size_t from = stable > kCleanupReach ? stable - kCleanupReach : 0;
    const size_t sp = text.find(' ', from);
    if (sp != std::string::npos && sp < stable) stable = sp;
  }
  std::string out;
  if (stable > emitted_) {
    out = tok::sanitize_utf8(std::string_view(text).substr(emitted_, stable - emitted_));
    emitted_ = stable;
  }
  // Close the window once everything it produced is out, so that work stays bounded.
  if (final || (ids_.size() >= kWindowTokens && emitted_ == text.size())) {
    if (!ids_.empty()) first_ = false;
    ids_.clear();
    emitted_ = 0;
  }
  return out;
}

std::string StreamingDetokenizer::push(TokenId id) {
  ids_.push_back(id);
  return take(false);
}

std::string StreamingDetokenizer::flush() { return take(true); }

}  // namespace plumb
