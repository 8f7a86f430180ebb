// Chat template families: detection by marker substrings (in the order llama.cpp checks
// them) and rendering.
#include <cctype>
#include <ctime>

#include "plumb/chat.h"

namespace plumb {
namespace {

struct Named {
  ChatTemplate t;
  std::string_view name;
};
constexpr Named kNames[] = {
    {ChatTemplate::kChatML, "chatml"}, {ChatTemplate::kLlama2, "llama2"},   {ChatTemplate::kLlama2Sys, "llama2-sys"},
    {ChatTemplate::kLlama3, "llama3"}, {ChatTemplate::kMistral, "mistral"}, {ChatTemplate::kGemma, "gemma"},
    {ChatTemplate::kPhi3, "phi3"},     {ChatTemplate::kZephyr, "zephyr"},   {ChatTemplate::kGptOss, "gpt-oss"},
};

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string names_list() {
  std::string out;
  for (const auto& n : kNames) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

// gpt-oss's harmony format, as its published chat template renders a conversation without tools
// (the model is trained on it and "should not be used without" it): a system message with the
// model's identity, the date and the reasoning effort; the caller's system message as the
// developer's instructions; earlier answers in the final channel, their reasoning dropped; and
// "<|start|>assistant", after which the model names its channel.
std::string render_harmony(std::span<const ChatMessage> msgs, bool add_assistant, const ChatRenderOptions& o) {
  std::string date = o.today;
  if (date.empty()) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &local);
    date = buf;
  }
  std::string s =
      "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
      "2024-06\nCurrent date: " + date + "\n\nReasoning: " + o.reasoning_effort +
      "\n\n# Valid channels: analysis, commentary, final. "
      "Channel must be included for every message.<|end|>";
  size_t first = 0;
  if (!msgs.empty() && (msgs[0].role == "system" || msgs[0].role == "developer")) {
    if (!msgs[0].content.empty()) s += "<|start|>developer<|message|># Instructions\n\n" + msgs[0].content + "\n\n<|end|>";
    first = 1;
  }
  for (const ChatMessage& m : msgs.subspan(first)) {
    if (m.role == "assistant")
      s += "<|start|>assistant<|channel|>final<|message|>" + m.content + "<|end|>";
    else if (m.role == "user")
      s += "<|start|>user<|message|>" + m.content + "<|end|>";
  }
  if (add_assistant) s += "<|start|>assistant";
  return s;
}

}  // namespace

std::string_view chat_template_name(ChatTemplate t) {
  for (const auto& n : kNames)
    if (n.t == t) return n.name;
  return "unknown";
}

std::vector<std::string> chat_template_names() {
  std::vector<std::string> out;
  for (const auto& n : kNames) out.emplace_back(n.name);
  return out;
}

Result<ChatTemplate> chat_template_from_name(std::string_view name) {
  for (const auto& n : kNames)
    if (n.name == name) return n.t;
  return Status::InvalidArgument("unknown chat template '" + std::string(name) + "'; known: " + names_list());
}

Result<ChatTemplate> detect_chat_template(std::string_view tmpl) {
  auto has = [&](std::string_view s) { return tmpl.find(s) != std::string_view::npos; };
  const std::string hint = "; pass --chat-template NAME (" + names_list() + ")";
  if (tmpl.empty()) return Status::Unsupported("the model has no chat template (tokenizer.chat_template)" + hint);
  if (has("<|im_start|>")) {
    if (has("<|im_sep|>") || has("<end_of_utterance>"))
      return Status::Unsupported("the chat template is a ChatML variant (Phi-4 / SmolVLM) plumb does not render" + hint);
    return ChatTemplate::kChatML;
  }
  if (tmpl.substr(0, 7) == "mistral" || has("[INST]")) {
    if (has("[SYSTEM_PROMPT]") || has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]"))
      return ChatTemplate::kMistral;
    return has("<<SYS>>") ? ChatTemplate::kLlama2Sys : ChatTemplate::kLlama2;
  }
  if (has("<|start|>") && has("<|channel|>")) return ChatTemplate::kGptOss;  // OpenAI's harmony format
  if (has("<|assistant|>") && has("<|end|>")) return ChatTemplate::kPhi3;
  if (has("<|user|>") && (has("<|endoftext|>") || (has("<|assistant|>") && has("eos_token")))) return ChatTemplate::kZephyr;
  if (has("<start_of_turn>")) return ChatTemplate::kGemma;
  if (has("<|start_header_id|>") && has("<|end_header_id|>")) return ChatTemplate::kLlama3;
  return Status::Unsupported("the model's chat template (tokenizer.chat_template) is not one plumb recognises" + hint);
}

std::string render_chat(ChatTemplate t, std::span<const ChatMessage> msgs, bool add_assistant,
                        const ChatRenderOptions& options) {
  std::string s;
  switch (t) {
    case ChatTemplate::kChatML:
      for (const auto& m : msgs) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_assistant) s += "<|im_start|>assistant\n";
      break;
    case ChatTemplate::kLlama3:
      for (const auto& m : msgs)
        s += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
      if (add_assistant) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplate::kLlama2:
    case ChatTemplate::kLlama2Sys: {
      // BOS opens the text (added by the tokenizer); later turns open with "<s>[INST] ".
      bool in_turn = true;
      s += "[INST] ";
      for (const auto& m : msgs) {
        if (!in_turn) {
          s += "<s>[INST] ";
          in_turn = true;
        }
        if (m.role == "system")
          s += t == ChatTemplate::kLlama2Sys ? "<<SYS>>\n" + m.content + "\n<</SYS>>\n\n" : m.content + "\n";
        else if (m.role == "user")
          s += m.content + " [/INST]";
        else {
          s += m.content + "</s>";
          in_turn = false;
        }
      }
      break;
    }
    case ChatTemplate::kMistral: {
      bool in_turn = false;
      for (const auto& m : msgs) {
        if (!in_turn) {
          s += "[INST] ";
          in_turn = true;
        }
        if (m.role == "system")
          s += m.content + "\n\n";
        else if (m.role == "user")
          s += m.content + "[/INST]";
        else {
          s += ' ';
          s += trim(m.content);
          s += "</s>";
          in_turn = false;
        }
      }
      break;
    }
    case ChatTemplate::kGemma: {
      std::string system;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          system += trim(m.content);
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        s += "<start_of_turn>" + role + "\n";
        if (!system.empty() && role != "model") {
          s += system + "\n\n";
          system.clear();
        }
        s += trim(m.content) + "<end_of_turn>\n";
      }
      if (add_assistant) s += "<start_of_turn>model\n";
      break;
    }
    case ChatTemplate::kPhi3:
      for (const auto& m : msgs) s += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_assistant) s += "<|assistant|>\n";
      break;
    case ChatTemplate::kZephyr:
      for (const auto& m : msgs) s += "<|" + m.role + "|>\n" + m.content + "<|endoftext|>\n";
      if (add_assistant) s += "<|assistant|>\n";
      break;
    case ChatTemplate::kGptOss:
      s = render_harmony(msgs, add_assistant, options);
      break;
  }
  return s;
}

std::vector<std::string> chat_end_markers(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::kChatML: return {"<|im_end|>"};
    case ChatTemplate::kLlama3: return {"<|eot_id|>"};
    case ChatTemplate::kGemma: return {"<end_of_turn>"};
    case ChatTemplate::kPhi3: return {"<|end|>"};
    case ChatTemplate::kZephyr: return {"<|endoftext|>"};
    case ChatTemplate::kGptOss: return {"<|return|>", "<|call|>"};
    default: return {"</s>"};
  }
}

std::vector<HarmonyReader::Segment> HarmonyReader::feed(std::string_view text) {
  std::vector<Segment> out;
  take(text, false, out);
  return out;
}

std::vector<HarmonyReader::Segment> HarmonyReader::finish() {
  std::vector<Segment> out;
  take({}, true, out);
  return out;
}

void HarmonyReader::take(std::string_view text, bool at_end, std::vector<Segment>& out) {
  constexpr size_t kMaxMarker = 24;  // "<|constrain|>" is the longest harmony marker
  pending_ += text;
  auto emit = [&](std::string_view s) {
    if (s.empty() || !in_message_) return;
    if (!out.empty() && out.back().channel == channel_)
      out.back().text += s;
    else
      out.push_back({channel_, std::string(s)});
    if (channel_ == "final") final_ += s;
  };
  size_t pos = 0;
  while (pos < pending_.size()) {
    const size_t open = pending_.find("<|", pos);
    if (open == std::string::npos) {
      // A '<' at the end may begin a marker: hold it back.
      size_t end = pending_.size();
      if (!at_end && pending_.back() == '<') --end;
      emit(std::string_view(pending_).substr(pos, end - pos));
      pos = end;
      break;
    }
    const size_t close = pending_.find("|>", open + 2);
    if (close == std::string::npos) {
      // A marker not finished yet; at the end of the reply, or once longer than any marker, it
      // was text.
      if (!at_end && pending_.size() - open > kMaxMarker) {
        emit(std::string_view(pending_).substr(pos, open + 2 - pos));
        pos = open + 2;
        continue;
      }
      const size_t end = at_end ? pending_.size() : open;
      emit(std::string_view(pending_).substr(pos, end - pos));
      pos = end;
      break;
    }
    // Harmony's markers are short names: a "<|" that another "<|" or a long run follows is text.
    const size_t next_open = pending_.find("<|", open + 2);
    if ((next_open != std::string::npos && next_open < close) || close - open > kMaxMarker) {
      emit(std::string_view(pending_).substr(pos, open + 2 - pos));
      pos = open + 2;
      continue;
    }
    const std::string_view marker = std::string_view(pending_).substr(open, close + 2 - open);
    if (in_message_) {
      emit(std::string_view(pending_).substr(pos, open - pos));
      if (marker == "<|end|>" || marker == "<|return|>" || marker == "<|call|>") {
        in_message_ = false;
        channel_.clear();
      } else {
        emit(marker);  // a marker-like text inside a message is the message's
      }
    } else if (marker == "<|channel|>") {
      // The channel's name runs up to the next marker or space (" to=functions.x" may follow).
      const size_t name_end = pending_.find_first_of(" <", close + 2);
      if (name_end == std::string::npos) {
        if (!at_end) {
          pos = open;
          break;
        }
        channel_ = pending_.substr(close + 2);
        pos = pending_.size();
        break;
      }
      channel_ = pending_.substr(close + 2, name_end - close - 2);
      pos = name_end;
      continue;
    } else if (marker == "<|message|>") {
      in_message_ = true;
    } else if (marker == "<|start|>") {
      channel_.clear();
    }
    pos = close + 2;
  }
  pending_.erase(0, std::min(pos, pending_.size()));
  if (at_end) pending_.clear();
}

}  // namespace plumb
