// plumb/status.h — the one error style used everywhere in plumb.
//
// Expected failures (a missing file, a corrupt GGUF, a bad argument) are
// returned as a Status or a Result<T>; programmer errors are asserts.  A
// message names the input, the field, what was expected and what was found:
//   "model.gguf: tensor 'blk.0.attn_q.weight': data ends at byte 9120, past the end of the file (8000 bytes)"
// Exceptions never cross a module boundary.
//
// Thread safety: Status and Result are values; distinct objects may be used
// from different threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace plumb {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable
  kNotFound,         // a file, key, tensor or record does not exist
  kCorrupt,          // input data violates its format
  kUnsupported,      // valid input that plumb cannot handle (yet)
  kIOError,          // the operating system refused
  kOutOfRange,       // e.g. the context window is full
  kCancelled,        // a progress callback asked to stop
  kInternal,         // should not happen; a bug
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corrupt(std::string msg) { return {StatusCode::kCorrupt, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt: <message>", or "ok".
  std::string to_string() const;

  // Returns a copy whose message is "<context>: <message>".
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok() for a meaningful status; OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok()
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace plumb

#define PLUMB_CONCAT_INNER(a, b) a##b
#define PLUMB_CONCAT(a, b) PLUMB_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define PLUMB_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::plumb::Status plumb_s_ = (expr);         \
    if (!plumb_s_.ok()) return plumb_s_;       \
  } while (0)

// `PLUMB_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or
// returns its Status from the enclosing function.
#define PLUMB_ASSIGN_OR_RETURN(lhs, expr) \
  PLUMB_ASSIGN_OR_RETURN_IMPL(PLUMB_CONCAT(plumb_r_, __LINE__), lhs, expr)
#define PLUMB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
