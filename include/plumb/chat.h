// plumb/chat.h — chat templates: recognise a model's tokenizer.chat_template (Jinja) by its
// marker strings, as llama.cpp's llm_chat_detect_template does, and render messages in that
// family's format.  No Jinja interpreter: the families below are rendered by hand.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/status.h"

namespace plumb {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatTemplate { kChatML, kLlama2, kLlama2Sys, kLlama3, kMistral, kGemma, kPhi3, kZephyr, kGptOss };

// "chatml", "llama2", "llama2-sys", "llama3", "mistral", "gemma", "phi3", "zephyr", "gpt-oss".
std::string_view chat_template_name(ChatTemplate t);
std::vector<std::string> chat_template_names();
// By name (as above); InvalidArgument listing the names otherwise.
Result<ChatTemplate> chat_template_from_name(std::string_view name);
// From the Jinja source in tokenizer.chat_template.  Unsupported (suggesting
// --chat-template NAME) when no family matches or the template is empty.
Result<ChatTemplate> detect_chat_template(std::string_view jinja);

// Renders the conversation; with `add_assistant`, ends with the assistant's turn opening.
// The text contains the family's special-token texts ("<|im_start|>"), so tokenize it with
// parse_special; BOS is left to the tokenizer.
struct ChatRenderOptions {
  std::string today;                        // gpt-oss's "Current date: ..."; empty: the local date now
  std::string reasoning_effort = "medium";  // gpt-oss's "Reasoning: ...": low, medium or high
};
std::string render_chat(ChatTemplate t, std::span<const ChatMessage> messages, bool add_assistant,
                        const ChatRenderOptions& options = {});
// Texts that end an assistant turn in this family ("<|im_end|>"), to add as stop tokens.
std::vector<std::string> chat_end_markers(ChatTemplate t);

// A gpt-oss reply, generated with its special tokens rendered, read as it streams.  The model
// writes messages in channels: "<|channel|>analysis<|message|>reasoning<|end|><|start|>assistant
// <|channel|>final<|message|>answer<|return|>".  feed() returns the message text that became
// known, by channel, and holds back a marker it has only seen part of; text outside any
// message (role names, headers) is dropped.
class HarmonyReader {
 public:
  struct Segment {
    std::string channel;  // "analysis", "commentary", "final"; "" when the message named none
    std::string text;
  };
  std::vector<Segment> feed(std::string_view text);
  // What feed() held back, at the end of the reply.
  std::vector<Segment> finish();
  // Every "final" message's text so far: what the conversation keeps as the reply.
  const std::string& final_text() const { return final_; }

 private:
  void take(std::string_view text, bool at_end, std::vector<Segment>& out);
  std::string pending_;         // unread text: a marker's beginning, or a header in progress
  std::string channel_;
  bool in_message_ = false;
  std::string final_;
};

}  // namespace plumb
