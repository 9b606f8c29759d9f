#pragma once
// A job's log as an HTTP body: read from a byte offset in bounded pieces; with `follow`, the
// stream keeps polling the file until the job has ended and everything is sent. Any number of
// followers each hold one piece at a time, never the whole log.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "api/http.h"

namespace boucle::api {

std::shared_ptr<BodyStream> makeLogStream(std::filesystem::path file, uint64_t offset, bool follow,
                                          std::function<bool()> jobFinished);

// A file (or `length` bytes of it from `offset`, for a Range), in bounded pieces.
std::shared_ptr<BodyStream> makeFileStream(std::filesystem::path file, uint64_t offset = 0,
                                           uint64_t length = UINT64_MAX);

}  // namespace boucle::api
