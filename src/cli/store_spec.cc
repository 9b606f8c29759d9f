#include "cli/store_spec.h"

#include <fstream>
#include <sstream>

namespace boucle::cli {

namespace fs = std::filesystem;

std::string storeSpecFor(const fs::path& data, const std::string& given) {
  if (!given.empty()) return given;
  std::ifstream in(data / "database");
  std::string spec;
  if (in && std::getline(in, spec) && !spec.empty()) return spec;
  return "sqlite:" + (data / "boucle.db").string();
}

Status rememberStoreSpec(const fs::path& data, const std::string& given) {
  fs::path file = data / "database";
  std::error_code ec;
  if (given.empty()) {
    fs::remove(file, ec);
    return ec ? Status::Io("cannot remove " + file.string() + ": " + ec.message()) : Status::Ok();
  }
  fs::path tmp = data / "database.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << given << "\n";
    if (!out.flush()) return Status::Io("cannot write " + tmp.string());
  }
  fs::rename(tmp, file, ec);
  return ec ? Status::Io("cannot write " + file.string() + ": " + ec.message()) : Status::Ok();
}

}  // namespace boucle::cli
