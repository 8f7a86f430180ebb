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
std::string render_chat(ChatTemplate t, std::span<const ChatMessage> messages, bool add_assistant);
// Texts that end an assistant turn in this family ("<|im_end|>"), to add as stop tokens.
std::vector<std::string> chat_end_markers(ChatTemplate t);

}  // namespace plumb
