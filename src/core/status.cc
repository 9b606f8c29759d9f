#include "core/status.h"

#include <cerrno>
#include <cstring>

namespace boucle {

std::string_view toString(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalid:
      return "invalid";
    case Code::kNotFound:
      return "not found";
    case Code::kConflict:
      return "conflict";
    case Code::kIo:
      return "i/o error";
    case Code::kUnauthorized:
      return "unauthorized";
    case Code::kTimeout:
      return "timeout";
    case Code::kCancelled:
      return "cancelled";
    case Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::toString() const {
  if (ok()) return "ok";
  return message_;
}

Status errnoStatus(std::string_view what, int err) {
  std::string msg = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(std::move(msg));
    case EEXIST:
    case ENOTEMPTY:
    case EBUSY:
      return Status::Conflict(std::move(msg));
    case EACCES:
    case EPERM:
      return Status::Unauthorized(std::move(msg));
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
      return Status::Invalid(std::move(msg));
    case ETIMEDOUT:
      return Status::Timeout(std::move(msg));
    case ECANCELED:
    case EINTR:
      return Status::Cancelled(std::move(msg));
    default:
      return Status::Io(std::move(msg));
  }
}

}  // namespace boucle
