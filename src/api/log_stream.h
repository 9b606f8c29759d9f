#pragma once
// A job's log as an HTTP body: read from a byte offset in bounded pieces; with `follow`, the
// stream keeps polling the file until the job has ended and everything is sent. Any number of
// followers each hold one piece at a time, never the whole log.

#include <filesystem>
#include <functional>
#include <memory>

#include "api/http.h"

namespace boucle::api {

std::shared_ptr<BodyStream> makeLogStream(std::filesystem::path file, uint64_t offset, bool follow,
                                          std::function<bool()> jobFinished);

// A whole file, in bounded pieces.
std::shared_ptr<BodyStream> makeFileStream(std::filesystem::path file);

}  // namespace boucle::api
