#pragma once
// Content-addressed storage for artifacts: a blob's name is the SHA-256 of its content, so the
// same file stored twice takes the space once and a blob can be checked against its name.
//
// Layout: ROOT/sha256/ab/abcdef… (read-only files), ROOT/tmp/ for writes in progress.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace boucle::vault {

struct BlobRef {
  std::string sha256;  // lowercase hex
  uint64_t size = 0;
};

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Hashes while copying into a temporary file, fsyncs, then renames into place (atomic): a
  // crash leaves either no blob or a whole one.
  Result<BlobRef> putFile(const std::filesystem::path& file);
  // The same from an open file (one opened beneath a job's workspace); `what` names it in errors.
  Result<BlobRef> putFd(int fd, const std::string& what);
  // Copies a blob out to `dest`, re-hashing on the way; a mismatch (corruption on disk) removes
  // `dest` and is an error.
  Status copyOut(const std::string& sha256, const std::filesystem::path& dest, int mode = 0644);
  // The same into an open file; on a mismatch the caller removes it.
  Status copyOutTo(const std::string& sha256, int outFd, const std::string& what);
  bool contains(const std::string& sha256) const;
  // Before a blob is served: Ok when its file is as it was when stored or last checked in
  // this process, else after hashing it again (Io when its content no longer matches its name).
  Status checkIntact(const std::string& sha256) const;
  std::filesystem::path pathOf(const std::string& sha256) const;
  std::filesystem::path tmpDir() const { return root_ / "tmp"; }
  // Moves `tmp` (written and fsynced, in tmpDir()) into place as the blob `ref`; when the blob
  // exists already, `tmp` is removed instead.
  Result<BlobRef> adopt(const std::filesystem::path& tmp, const BlobRef& ref) const;

 private:
  std::filesystem::path root_;
};

// A blob written piece by piece (an upload): hashed as it comes, stored under its hash by
// commit(), dropped if never committed. Memory stays one piece.
class BlobWriter {
 public:
  static Result<std::unique_ptr<BlobWriter>> open(const BlobStore& store);
  ~BlobWriter();
  Status write(std::string_view bytes);
  Result<BlobRef> commit();

 private:
  struct State;
  explicit BlobWriter(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// SHA-256 of bytes that come piece by piece (a download checked as it is written).
class StreamHash {
 public:
  static Result<StreamHash> create();
  StreamHash(StreamHash&&) noexcept;
  StreamHash& operator=(StreamHash&&) noexcept;
  ~StreamHash();
  void update(std::string_view bytes);
  std::string hex();  // ends the stream

 private:
  struct State;
  explicit StreamHash(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Hex SHA-256 of a file's content.
Result<BlobRef> hashFile(const std::filesystem::path& file);
bool isSha256Hex(std::string_view s);

}  // namespace boucle::vault
