// HTML through gumbo: visible text only (script, style, noscript, template dropped), one
// section per block element, headings h1-h6 kept as the heading path, <title> as the title.
// Line and byte positions come from gumbo's source positions of the text nodes.
//
// The DOM walk uses an explicit stack: hostile input nests elements arbitrarily deep.
#include <gumbo.h>

#include <memory>

#include "index/loader.h"

namespace plumb::index {
namespace {

bool is_skipped(GumboTag t) {
  return t == GUMBO_TAG_SCRIPT || t == GUMBO_TAG_STYLE || t == GUMBO_TAG_NOSCRIPT || t == GUMBO_TAG_TEMPLATE ||
         t == GUMBO_TAG_TITLE || t == GUMBO_TAG_IFRAME || t == GUMBO_TAG_OBJECT || t == GUMBO_TAG_SVG;
}

bool is_block(GumboTag t) {
  switch (t) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_LI: case GUMBO_TAG_UL: case GUMBO_TAG_OL:
    case GUMBO_TAG_TD: case GUMBO_TAG_TH: case GUMBO_TAG_TR: case GUMBO_TAG_TABLE: case GUMBO_TAG_BR:
    case GUMBO_TAG_PRE: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_NAV: case GUMBO_TAG_MAIN: case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_DT: case GUMBO_TAG_DD: case GUMBO_TAG_DL: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_HR: case GUMBO_TAG_FORM: case GUMBO_TAG_CAPTION: case GUMBO_TAG_BODY: case GUMBO_TAG_ADDRESS:
      return true;
    default:
      return false;
  }
}

int heading_level(GumboTag t) {
  switch (t) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

struct OutputDeleter {
  void operator()(GumboOutput* o) const { gumbo_destroy_output(&kGumboDefaultOptions, o); }
};

// Text of `node` (for <title>), without recursion: titles hold only text.
std::string direct_text(const GumboNode* node) {
  std::string out;
  const GumboVector& ch = node->v.element.children;
  for (unsigned i = 0; i < ch.length; ++i) {
    auto* c = static_cast<const GumboNode*>(ch.data[i]);
    if (c->type == GUMBO_NODE_TEXT || c->type == GUMBO_NODE_WHITESPACE || c->type == GUMBO_NODE_CDATA)
      out += c->v.text.text;
  }
  return out;
}

class Walker {
 public:
  explicit Walker(LoadedDocument* doc) : doc_(doc), stack_(6) {}

  void run(const GumboNode* root) {
    struct Frame { const GumboNode* node; unsigned next_child; };
    std::vector<Frame> frames;
    frames.push_back({root, 0});
    enter(root);
    while (!frames.empty()) {
      Frame& f = frames.back();
      const GumboNode* n = f.node;
      const bool has_children = n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_DOCUMENT;
      const GumboVector* ch = !has_children ? nullptr
                              : n->type == GUMBO_NODE_ELEMENT ? &n->v.element.children
                                                              : &n->v.document.children;
      if (ch && f.next_child < ch->length && !skipped(n)) {
        auto* c = static_cast<const GumboNode*>(ch->data[f.next_child++]);
        enter(c);
        frames.push_back({c, 0});
      } else {
        leave(n);
        frames.pop_back();
      }
    }
    flush();
  }

 private:
  static bool skipped(const GumboNode* n) { return n->type == GUMBO_NODE_ELEMENT && is_skipped(n->v.element.tag); }

  void enter(const GumboNode* n) {
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA) {
      add_text(n->v.text.text, n->v.text.start_pos, n->v.text.original_text.length);
      return;
    }
    if (n->type == GUMBO_NODE_WHITESPACE) {
      buf_ += ' ';
      return;
    }
    if (n->type != GUMBO_NODE_ELEMENT) return;
    const GumboTag tag = n->v.element.tag;
    if (tag == GUMBO_TAG_TITLE && doc_->title.empty()) doc_->title = normalize_whitespace(direct_text(n));
    if (heading_level(tag) > 0) {
      flush();
      in_heading_ = heading_level(tag);
      heading_text_.clear();
    } else if (is_block(tag)) {
      flush();
    }
  }

  void leave(const GumboNode* n) {
    if (n->type != GUMBO_NODE_ELEMENT) return;
    const GumboTag tag = n->v.element.tag;
    if (heading_level(tag) > 0 && in_heading_ == heading_level(tag)) {
      const int level = in_heading_;
      in_heading_ = 0;
      std::string h = normalize_whitespace(heading_text_);
      for (char& c : h)
        if (c == '\n') c = ' ';
      buf_.clear();
      has_pos_ = false;
      if (!h.empty()) {
        stack_[level - 1] = h;
        for (int l = level; l < 6; ++l) stack_[l].clear();
        if (level == 1 && doc_->title.empty()) doc_->title = h;
      }
    } else if (is_block(tag)) {
      flush();
    }
  }

  void add_text(const char* text, const GumboSourcePosition& pos, size_t original_len) {
    if (in_heading_) {
      heading_text_ += text;
      heading_text_ += ' ';
      return;
    }
    if (!has_pos_) {
      has_pos_ = true;
      line_start_ = static_cast<int>(pos.line);
      byte_start_ = pos.offset;
    }
    line_end_ = static_cast<int>(pos.line);
    byte_end_ = pos.offset + original_len;
    buf_ += text;
  }

  void flush() {
    std::string t = normalize_whitespace(buf_);
    buf_.clear();
    if (!t.empty()) {
      Section s;
      s.text = std::move(t);
      for (const auto& h : stack_) {
        if (h.empty()) continue;
        if (!s.heading.empty()) s.heading += " > ";
        s.heading += h;
      }
      if (has_pos_) {
        s.line_start = line_start_;
        s.line_end = line_end_;
        s.byte_start = static_cast<int64_t>(byte_start_);
        s.byte_end = static_cast<int64_t>(byte_end_);
      }
      doc_->sections.push_back(std::move(s));
    }
    has_pos_ = false;
  }

  LoadedDocument* doc_;
  std::vector<std::string> stack_;
  std::string buf_, heading_text_;
  int in_heading_ = 0;
  bool has_pos_ = false;
  int line_start_ = 0, line_end_ = 0;
  size_t byte_start_ = 0, byte_end_ = 0;
};

}  // namespace

Result<LoadedDocument> load_html(std::string_view data, std::string_view name) {
  LoadedDocument doc;
  doc.kind = "html";
  std::string warning;
  const std::string text = repair_utf8(data, &warning);
  if (!warning.empty()) doc.warnings.push_back(warning);
  std::unique_ptr<GumboOutput, OutputDeleter> out(gumbo_parse_with_options(&kGumboDefaultOptions, text.data(), text.size()));
  if (!out || !out->document) return Status::Corrupt(std::string(name) + ": the HTML parser produced no document");
  Walker(&doc).run(out->document);
  return doc;
}

}  // namespace plumb::index
