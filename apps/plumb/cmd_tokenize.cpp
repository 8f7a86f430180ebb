// `plumb tokenize` — text to token ids and pieces with a model's own tokenizer.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "plumb/tokenizer.h"

namespace plumb::app {
namespace {

using json = nlohmann::ordered_json;

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool from_stdin = false;
  bool no_bos = false;
  bool parse_special = false;
  bool ids_only = false;
  bool json_out = false;
};

// Pieces may be a fragment of a UTF-8 character (byte tokens): show such bytes as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 1 && (c < 0x20 || c == 0x7F)) ok = false;
    if (!ok) {
      char buf[8];
      std::snprintf(buf, sizeof buf, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\x%02X", c);
      out += buf;
      ++i;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

int run_tokenize(const TokenizeOptions& o) {
  std::string text = o.text;
  if (o.from_stdin) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto tok = Tokenizer::from_path(o.model);
  if (!tok.ok()) {
    print_error("tokenize", tok.status().message());
    return tok.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
  }
  const Tokenizer& t = **tok;
  const auto ids = t.tokenize(text, {.add_special = !o.no_bos, .parse_special = o.parse_special});

  if (o.json_out) {
    json j;
    j["model"] = o.model;
    j["n_tokens"] = ids.size();
    j["ids"] = ids;
    json toks = json::array();
    for (TokenId id : ids) {
      toks.push_back({{"id", id}, {"piece", t.token_to_piece(id, true)}, {"text", t.token_text(id)},
                      {"special", t.is_special(id)}});
    }
    j["tokens"] = std::move(toks);
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (o.ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return kExitOk;
  }
  for (TokenId id : ids) {
    std::printf("%8d  '%s'\n", id, printable(t.token_to_piece(id, true)).c_str());
  }
  std::fprintf(stderr, "%zu tokens\n", ids.size());
  return kExitOk;
}

const CommandRegistration kRegistration(
    "tokenize", 12, "Split text into token ids with a model's tokenizer (GGUF or tokenizer.json)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<TokenizeOptions>();
      sub.add_option("-m,--model", o->model, "GGUF model or vocab-only file, or a Hugging Face tokenizer.json")
          ->type_name("FILE")
          ->required();
      sub.add_option("text", o->text, "Text to tokenize (or use --stdin)");
      sub.add_flag("--stdin", o->from_stdin, "Read the text from standard input (all of it, newlines included)");
      sub.add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS (or CLS/SEP) even when the vocabulary asks for them");
      sub.add_flag("--parse-special", o->parse_special,
                   "Recognise control tokens such as <|eot_id|> written in the text (user-defined tokens always are)");
      sub.add_flag("--ids-only", o->ids_only, "Print only the ids, space-separated on one line");
      sub.add_flag("--json", o->json_out, "Print ids and pieces as JSON");
      sub.footer(
          "Output: one line per token, id and piece (bytes that are not whole UTF-8 characters as \\xNN).\n"
          "Exit status: 0 ok, 1 unreadable or unsupported tokenizer, 2 bad command line, 3 no such file.\n\n"
          "Examples:\n"
          "  plumb tokenize -m model.gguf \"Hello world\"\n"
          "  plumb tokenize -m model.gguf --no-bos --ids-only \"Hello world\"\n"
          "  plumb tokenize -m tokenizer.json --json \"<|eot_id|>\" --parse-special\n"
          "  cat prompt.txt | plumb tokenize -m model.gguf --stdin --ids-only | wc -w\n");
      return [o, &sub] {
        const bool has_text = sub.count("text") > 0;
        if (has_text == o->from_stdin) {
          print_error("tokenize", has_text ? "give the text or --stdin, not both" : "no text: give it as an argument or use --stdin");
          return static_cast<int>(kExitUsage);
        }
        return run_tokenize(*o);
      };
    });

}  // namespace
}  // namespace plumb::app
