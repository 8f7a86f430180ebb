#include "index/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace plumb::index {
namespace {

constexpr size_t kMaxReply = 256u << 20;

size_t on_data(char* p, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxReply) return 0;  // aborts the transfer
  out->append(p, size * n);
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

}  // namespace

Result<nlohmann::json> post_json(const std::string& url, const nlohmann::json& body, const std::string& api_key,
                                 long timeout_s) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("libcurl: cannot create a handle");
  std::unique_ptr<curl_slist, SlistDeleter> headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  if (!api_key.empty()) headers.reset(curl_slist_append(headers.release(), ("Authorization: Bearer " + api_key).c_str()));
  const std::string payload = body.dump();
  std::string reply;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK)
    return Status::IOError(url + ": request failed: " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  nlohmann::json j = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (code < 200 || code >= 300) {
    std::string msg;
    if (j.is_object() && j.contains("error")) {
      const auto& e = j["error"];
      msg = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : e.dump();
    } else {
      msg = reply.substr(0, 200);
    }
    return Status::IOError(url + ": HTTP " + std::to_string(code) + ": " + msg);
  }
  if (j.is_discarded()) return Status::Corrupt(url + ": reply is not JSON: " + reply.substr(0, 120));
  return j;
}

}  // namespace plumb::index
