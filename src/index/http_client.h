// A minimal blocking JSON-over-HTTP POST with libcurl, for the OpenAI-compatible back ends.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "plumb/status.h"

namespace plumb::index {

// POSTs `body` to `url` and parses the JSON reply.  Non-2xx replies become errors quoting the
// server's message ("error.message" in the OpenAI format) when there is one.
Result<nlohmann::json> post_json(const std::string& url, const nlohmann::json& body, const std::string& api_key,
                                 long timeout_s = 120);

}  // namespace plumb::index
