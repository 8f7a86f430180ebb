// The OpenAI-compatible back ends against a tiny HTTP server on 127.0.0.1 inside the test:
// request shape, reply parsing, error replies, and `ask` end to end with a generator.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "plumb/doc_index.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

struct Request {
  std::string path, auth;
  nlohmann::json body;
};

// Serves `n` requests, one connection each, answering with handler(request) -> (status, body).
class FakeServer {
 public:
  using Handler = std::function<std::pair<int, std::string>(const Request&)>;
  FakeServer(int n, Handler h) : handler_(std::move(h)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 4);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, n] {
      for (int i = 0; i < n; ++i) serve_one();
    });
  }
  ~FakeServer() {
    thread_.join();
    close(fd_);
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<Request> requests;

 private:
  void serve_one() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) return;  // no client came: the test fails on its own asserts
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos, need = 0;
    for (;;) {
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, n);
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        size_t cl = data.find("Content-Length: ");
        need = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + need) break;
    }
    Request r;
    r.path = data.substr(data.find(' ') + 1, data.find(' ', data.find(' ') + 1) - data.find(' ') - 1);
    size_t au = data.find("Authorization: ");
    if (au != std::string::npos) r.auth = data.substr(au + 15, data.find("\r\n", au) - au - 15);
    r.body = nlohmann::json::parse(data.substr(header_end + 4), nullptr, false);
    requests.push_back(r);
    auto [status, body] = handler_(r);
    std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!write(c, resp.data(), resp.size());
    close(c);
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(OpenAiBackends, EmbeddingsRequestAndReply) {
  FakeServer srv(2, [](const Request& r) -> std::pair<int, std::string> {
    if (r.body["model"] == "bad") return {400, R"({"error":{"message":"model 'bad' not found","type":"invalid_request_error"}})"};
    nlohmann::json data = nlohmann::json::array();
    // Out of order on purpose: "index" decides.
    data.push_back({{"index", 1}, {"embedding", {0.0, 1.0}}});
    data.push_back({{"index", 0}, {"embedding", {1.0, 0.5}}});
    return {200, nlohmann::json{{"object", "list"}, {"data", data}}.dump()};
  });
  auto emb = make_openai_embedder(srv.base(), "mini", "sk-test");
  auto v = emb->embed({"first", "second"});
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0], (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ((*v)[1], (std::vector<float>{0.0f, 1.0f}));
  auto bad = make_openai_embedder(srv.base() + "/embeddings", "bad", "")->embed({"x"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("HTTP 400: model 'bad' not found"), std::string::npos) << bad.status().message();
  ASSERT_EQ(srv.requests.size(), 2u);
  EXPECT_EQ(srv.requests[0].path, "/v1/embeddings");
  EXPECT_EQ(srv.requests[0].auth, "Bearer sk-test");
  EXPECT_EQ(srv.requests[0].body["input"], nlohmann::json({"first", "second"}));
  EXPECT_EQ(srv.requests[1].auth, "");
}

TEST(OpenAiBackends, AskWithAChatGeneratorQuotesNumberedPassages) {
  plumb::test::TempDir dir;
  plumb::test::write_file(dir.file("a.txt"), "The ferry to Skye leaves at nine.\n");
  auto idx = DocIndex::open(dir.file("a.db"));
  ASSERT_TRUE(idx.ok());
  ASSERT_TRUE((*idx)->add({dir.file("a.txt")}, AddOptions{}).ok());
  FakeServer srv(1, [](const Request& r) -> std::pair<int, std::string> {
    return {200, R"({"choices":[{"message":{"role":"assistant","content":"At nine [1]."}}]})"};
  });
  auto gen = make_openai_chat_generator(srv.base() + "/", "chat-model", "");
  auto a = answer_question(**idx, "When does the ferry to Skye leave?", QueryOptions{.k = 3}, gen.get());
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->text, "At nine [1].");
  EXPECT_FALSE(a->extractive);
  ASSERT_EQ(a->sources.size(), 1u);
  ASSERT_EQ(srv.requests.size(), 1u);
  EXPECT_EQ(srv.requests[0].path, "/v1/chat/completions");
  EXPECT_EQ(srv.requests[0].body["model"], "chat-model");
  const std::string prompt = srv.requests[0].body["messages"][0]["content"];
  EXPECT_NE(prompt.find("[1] ("), std::string::npos);
  EXPECT_NE(prompt.find("The ferry to Skye leaves at nine."), std::string::npos);
  EXPECT_NE(prompt.find("Question: When does the ferry to Skye leave?"), std::string::npos);
}

TEST(OpenAiBackends, UnreachableServerIsAnError) {
  auto v = make_openai_embedder("http://127.0.0.1:1/v1", "m", "")->embed({"x"});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kIOError);
}

}  // namespace
}  // namespace plumb::index
