// Chat template detection (by marker substrings, as llama.cpp) and rendering, as tables.
#include <gtest/gtest.h>

#include <ctime>

#include "plumb/chat.h"

namespace plumb {
namespace {

TEST(ChatTemplate, DetectTable) {
  const std::vector<std::pair<std::string, ChatTemplate>> cases = {
      {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'}}",
       ChatTemplate::kChatML},
      {"{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' }}",
       ChatTemplate::kLlama3},
      {"{% if messages[0]['role'] == 'system' %}<<SYS>>\n{{ system }}\n<</SYS>>{% endif %}[INST] {{ content }} [/INST]",
       ChatTemplate::kLlama2Sys},
      {"{{ bos_token }}{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}",
       ChatTemplate::kLlama2},
      {"{%- if messages[0]['role'] == 'system' %}[SYSTEM_PROMPT]{{ messages[0]['content'] }}[/SYSTEM_PROMPT][INST]",
       ChatTemplate::kMistral},
      {"{{ bos_token }}{% for m in messages %}{{ '<start_of_turn>' + role + '\n' }}{% endfor %}", ChatTemplate::kGemma},
      {"{% for m in messages %}{{'<|' + m['role'] + '|>' + '\n' + m['content'] + '<|end|>\n'}}{% endfor %}<|assistant|>",
       ChatTemplate::kPhi3},
      {"{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>\n' + m['content'] + eos_token }}{% endif %}"
       "{% endfor %}{{ '<|assistant|>' }}",
       ChatTemplate::kZephyr},
      {"{#- harmony -#}{{- \"<|start|>system<|message|>\" }}{%- if m.channel %}{{ \"<|channel|>\" + m.channel }}"
       "{%- endif %}{{- \"<|end|>\" }}",
       ChatTemplate::kGptOss},
  };
  for (const auto& [tmpl, want] : cases) {
    auto got = detect_chat_template(tmpl);
    ASSERT_TRUE(got.ok()) << tmpl << ": " << got.status().message();
    EXPECT_EQ(*got, want) << tmpl;
  }
}

TEST(ChatTemplate, UnrecognisedSuggestsFlag) {
  for (const std::string t : {"", "{{ messages }} ### Human:"}) {
    auto got = detect_chat_template(t);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(got.status().message().find("--chat-template NAME"), std::string::npos) << got.status().message();
    EXPECT_NE(got.status().message().find("chatml"), std::string::npos);
  }
  EXPECT_FALSE(chat_template_from_name("vicuna").ok());
  for (const auto& n : chat_template_names()) {
    auto t = chat_template_from_name(n);
    ASSERT_TRUE(t.ok()) << n;
    EXPECT_EQ(chat_template_name(*t), n);
  }
}

TEST(ChatTemplate, RenderTable) {
  const std::vector<ChatMessage> conv = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
  const std::vector<std::pair<ChatTemplate, std::string>> cases = {
      {ChatTemplate::kChatML,
       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
       "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
      {ChatTemplate::kLlama3,
       "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
       "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>"
       "\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
      {ChatTemplate::kLlama2Sys, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello.</s><s>[INST] Bye [/INST]"},
      {ChatTemplate::kLlama2, "[INST] Be brief.\nHi [/INST]Hello.</s><s>[INST] Bye [/INST]"},
      {ChatTemplate::kMistral, "[INST] Be brief.\n\nHi[/INST] Hello.</s>[INST] Bye[/INST]"},
      {ChatTemplate::kGemma,
       "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\n"
       "Bye<end_of_turn>\n<start_of_turn>model\n"},
      {ChatTemplate::kPhi3,
       "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"},
      {ChatTemplate::kZephyr,
       "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n<|assistant|>\nHello.<|endoftext|>\n<|user|>\nBye"
       "<|endoftext|>\n<|assistant|>\n"},
      {ChatTemplate::kGptOss,
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: "
       "2024-06\nCurrent date: 2026-11-25\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. "
       "Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nBe brief.\n\n"
       "<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello.<|end|>"
       "<|start|>user<|message|>Bye<|end|><|start|>assistant"},
  };
  for (const auto& [t, want] : cases)
    EXPECT_EQ(render_chat(t, conv, true, {.today = "2026-11-25"}), want) << chat_template_name(t);
  const std::string high = render_chat(ChatTemplate::kGptOss, conv, true, {.today = "2026-11-25", .reasoning_effort = "high"});
  EXPECT_NE(high.find("\n\nReasoning: high\n\n"), std::string::npos) << high;
  // gpt-oss without a system message has no developer message, and states today's date.
  const std::vector<ChatMessage> user_only = {{"user", "Hi"}};
  const std::string oss = render_chat(ChatTemplate::kGptOss, user_only, false);
  EXPECT_EQ(oss.find("developer"), std::string::npos);
  char today[16];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(today, sizeof today, "%Y-%m-%d", &local);
  EXPECT_NE(oss.find(std::string("Current date: ") + today), std::string::npos) << oss;
  EXPECT_TRUE(oss.ends_with("<|start|>user<|message|>Hi<|end|>")) << oss;
}

// A gpt-oss reply as generate() streams it with special tokens rendered: every split of the
// text into two pieces (markers cut anywhere) reads the same as the whole.
TEST(HarmonyReader, SplitsChannelsWhereverTheStreamIsCut) {
  const std::string reply =
      "<|channel|>analysis<|message|>User says hi; 2 < 3 and a|b, <|x <| not markers.<|end|><|start|>assistant<|channel|>commentary "
      "to=functions.search <|constrain|>json<|message|>{\"q\": \"x\"}<|call|><|start|>assistant<|channel|>final"
      "<|message|>Hello <there>!<|return|>";
  for (size_t cut = 0; cut <= reply.size(); ++cut) {
    HarmonyReader r;
    std::vector<HarmonyReader::Segment> all;
    for (auto part : {std::string_view(reply).substr(0, cut), std::string_view(reply).substr(cut)})
      for (auto& s : r.feed(part)) all.push_back(std::move(s));
    for (auto& s : r.finish()) all.push_back(std::move(s));
    std::string analysis, commentary, final_text;
    for (const auto& s : all) {
      if (s.channel == "analysis") analysis += s.text;
      else if (s.channel == "commentary") commentary += s.text;
      else if (s.channel == "final") final_text += s.text;
      else ADD_FAILURE() << "cut " << cut << ": channel '" << s.channel << "'";
    }
    EXPECT_EQ(analysis, "User says hi; 2 < 3 and a|b, <|x <| not markers.") << cut;
    EXPECT_EQ(commentary, "{\"q\": \"x\"}") << cut;
    EXPECT_EQ(final_text, "Hello <there>!") << cut;
    EXPECT_EQ(r.final_text(), "Hello <there>!") << cut;
  }
}

TEST(HarmonyReader, AnUnfinishedReplyKeepsItsText) {
  HarmonyReader r;
  auto a = r.feed("<|channel|>final<|message|>Half an ans");
  auto b = r.feed("wer <|");
  auto c = r.finish();
  std::string text;
  for (const auto* v : {&a, &b, &c})
    for (const auto& s : *v) text += s.text;
  EXPECT_EQ(text, "Half an answer <|");
  EXPECT_EQ(r.final_text(), "Half an answer <|");
  // Text before any message (no channel yet) is not a message.
  HarmonyReader plain;
  EXPECT_TRUE(plain.feed("no markup at all").empty());
  EXPECT_EQ(plain.final_text(), "");
}

}  // namespace
}  // namespace plumb
