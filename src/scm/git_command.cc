#include "scm/git_command.h"

#include "os/process.h"

namespace boucle::scm {

Result<std::string> git(const std::vector<std::string>& args, const GitAuth* auth, Millis timeout) {
  std::vector<std::string> argv{"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = os::runAndCapture(argv, {}, auth ? auth->env() : std::vector<std::string>{}, timeout);
  if (!r.ok()) return r.status();
  std::string out = auth ? auth->redact(r->output) : r->output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (r->exitCode != 0) {
    // The subcommand, past "-C DIR" and "-c NAME=VALUE" options.
    size_t i = 0;
    while (i + 1 < args.size() && (args[i] == "-C" || args[i] == "-c")) i += 2;
    return Status::Io("git " + (i < args.size() ? args[i] : std::string()) + ": " + out);
  }
  return out;
}

Result<std::string> gitIn(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> all{"-C", dir.string()};
  all.insert(all.end(), args.begin(), args.end());
  return git(all);
}

}  // namespace boucle::scm
