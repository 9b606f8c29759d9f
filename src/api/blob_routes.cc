// Blobs: the content-addressed store's files, read by their SHA-256 and uploaded as streams.
#include "api/route_helpers.h"
#include "core/log.h"
#include "vault/blob_store.h"

namespace boucle::api {

using nlohmann::json;

namespace {

// An upload into the blob store: hashed as it arrives; the answer names the blob.
class BlobUpload : public BodySink {
 public:
  BlobUpload(std::unique_ptr<vault::BlobWriter> w, std::string expected)
      : writer_(std::move(w)), expected_(std::move(expected)) {}
  bool write(std::string_view bytes) override {
    if (!writer_) return false;
    if (auto st = writer_->write(bytes); !st.ok()) {
      error_ = st.message();
      writer_.reset();  // drops the partial file
      return false;
    }
    return true;
  }
  Response finish() override {
    if (!error_.empty()) return errorResponse(500, "cannot store the upload");
    if (!writer_) return errorResponse(400, "the upload was cut short");
    auto ref = writer_->commit();
    writer_.reset();
    if (!ref.ok()) return errorResponse(500, "cannot store the upload");
    if (!expected_.empty() && ref->sha256 != expected_) {
      // Stored under its real hash (content-addressed, harmless), refused as what was asked.
      return errorResponse(422, "the content's SHA-256 is " + ref->sha256 + ", not " + expected_);
    }
    Response r = jsonResponse(
        201, "{\"sha256\":\"" + ref->sha256 + "\",\"size\":" + std::to_string(ref->size) + "}\n");
    r.headers.emplace_back("ETag", "\"" + ref->sha256 + "\"");
    return r;
  }

 private:
  std::unique_ptr<vault::BlobWriter> writer_;
  std::string expected_;
  std::string error_;
};

}  // namespace

std::shared_ptr<BodySink> openBlobUpload(const ApiContext& ctx, const Request& req,
                                         Response* refusal) {
  std::string expected = req.query.count("sha256") ? req.query.at("sha256") : "";
  if (!expected.empty() && !vault::isSha256Hex(expected)) {
    *refusal = errorResponse(400, "sha256: 64 lower-case hex digits");
    return nullptr;
  }
  auto writer = vault::BlobWriter::open(vault::BlobStore(ctx.shared() / "blobs"));
  if (!writer.ok()) {
    *refusal = errorResponse(500, "cannot store uploads");
    return nullptr;
  }
  return std::make_shared<BlobUpload>(std::move(writer).value(), expected);
}

void addBlobRoutes(Router& r, const ApiContext& c) {
  // Content-addressed: the name is the SHA-256, which the ETag repeats so clients can check.
  r.add("GET", "/api/blobs/{sha256}", Access::kRead, [&c](const Request&, const Params& p) {
    const std::string& sha = p.at("sha256");
    vault::BlobStore blobs(c.shared() / "blobs");
    if (!vault::isSha256Hex(sha) || !blobs.contains(sha)) return errorResponse(404, "no such blob");
    if (auto st = blobs.checkIntact(sha); !st.ok()) {
      logError(st.message());
      return errorResponse(500, "blob " + sha + " is damaged on the server (boucle fsck)");
    }
    Response res;
    res.contentType = "application/octet-stream";
    res.headers.emplace_back("ETag", "\"" + sha + "\"");
    std::error_code ec;
    auto size = std::filesystem::file_size(blobs.pathOf(sha), ec);
    if (ec) return errorResponse(500, "internal error");
    res.file = FileBody{blobs.pathOf(sha).string(), 0, size};
    return res;
  });
  // Uploads are streamed to openBlobUpload before their body is read; this route only declares
  // who may make them.
  r.add("POST", "/api/blobs", Access::kChange, [](const Request&, const Params&) {
    return errorResponse(400, "uploads are streamed: POST the file as the body");
  });
}

}  // namespace boucle::api
