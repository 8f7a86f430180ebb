// The chat-memory prompt: recalled turns go into the current user message, not a system
// message, so the conversation's prefix (and its KV cache) stays the same from turn to turn.
#include "rag/rag.h"

namespace plumb::rag {

std::string message_with_memory(const std::string& message, const std::vector<index::MemoryTurn>& recalled,
                                const std::string& session, size_t max_chars) {
  std::string notes;
  for (const auto& t : recalled) {
    if (t.session == session) continue;
    std::string line = "- " + t.role + ": " + t.text;
    for (char& c : line)
      if (c == '\n') c = ' ';
    if (!notes.empty() && notes.size() + line.size() > max_chars) break;
    if (line.size() > max_chars) {
      size_t cut = max_chars;
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
      line = line.substr(0, cut) + " …";
    }
    notes += line + "\n";
  }
  if (notes.empty()) return message;
  return "(From earlier conversations, possibly relevant:\n" + notes + ")\n\n" + message;
}

}  // namespace plumb::rag
