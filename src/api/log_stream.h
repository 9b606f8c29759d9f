#pragma once
// A job's log as an HTTP body: read from a byte offset in bounded pieces; with `follow`, the
// stream goes on until the job has ended and everything is sent, woken by the log's bell
// (core/bell.h) when it grows or ends rather than polling. Any number of followers each hold
// one piece at a time, never the whole log.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http.h"

namespace boucle::api {

// `jobFinished` asks the store (at the start, when a bell says "ended", and every few seconds);
// `bellKeys` are the keys whose rings mean the log may have grown or ended.
std::shared_ptr<BodyStream> makeLogStream(std::filesystem::path file, uint64_t offset, bool follow,
                                          std::function<bool()> jobFinished,
                                          std::vector<std::string> bellKeys = {});

// A file (or `length` bytes of it from `offset`, for a Range), in bounded pieces.
std::shared_ptr<BodyStream> makeFileStream(std::filesystem::path file, uint64_t offset = 0,
                                           uint64_t length = UINT64_MAX);

}  // namespace boucle::api
