#pragma once
// Expected failures are values: every fallible operation returns a Status or a Result<T>.
// Exceptions are kept for programming errors and start-up misconfiguration.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace boucle {

enum class Code {
  kOk,
  kInvalid,
  kNotFound,
  kConflict,
  kIo,
  kUnauthorized,
  kTimeout,
  kCancelled,
  kInternal
};

std::string_view toString(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return {}; }
  static Status Invalid(std::string msg) { return {Code::kInvalid, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status Io(std::string msg) { return {Code::kIo, std::move(msg)}; }
  static Status Unauthorized(std::string msg) { return {Code::kUnauthorized, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {Code::kTimeout, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not found: no such file x" — the message alone when the code adds nothing.
  std::string toString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Maps an errno value to a Status in one place, so callers never switch on errno themselves.
Status errnoStatus(std::string_view what, int err);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace boucle
