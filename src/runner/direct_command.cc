#include "runner/direct_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "os/files.h"

namespace boucle::runner {
namespace fs = std::filesystem;

namespace {

// Characters that mean nothing to sh inside a word: a script made only of these and blanks is
// a list of literal words. Everything else (quotes, $, `, \, globs, ~, redirections, ;, &, |,
// parentheses, braces, #, !, newlines) leaves the script to the shell.
bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+' || c == '@' ||
         c == '%' || c == '=';
}

// Builtins and keywords whose meaning is the shell's own (they change its state, or no program
// of that name does the same thing), after GNU make's list; `echo` too, as dash's and
// coreutils' differ on options.
bool shellOnly(std::string_view word) {
  static constexpr std::array<std::string_view, 47> kWords = {
      ".",       ":",        "alias",   "bg",     "break", "case",  "cd",   "chdir",
      "command", "continue", "do",      "done",   "echo",  "elif",  "else", "esac",
      "eval",    "exec",     "exit",    "export", "fc",    "fg",    "fi",   "for",
      "getopts", "hash",     "if",      "in",     "jobs",  "local", "read", "readonly",
      "return",  "set",      "shift",   "test",   "then",  "times", "trap", "type",
      "ulimit",  "umask",    "unalias", "unset",  "until", "wait",  "while"};
  return std::find(kWords.begin(), kWords.end(), word) != kWords.end();
}

// A regular file we may execute that the kernel can start by itself: an ELF binary or a script
// with `#!`. (A script without `#!` is run by sh itself, as a shell script.)
bool executable(const fs::path& file) {
  if (::access(file.c_str(), X_OK) != 0) return false;
  os::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  char head[256] = {};
  ssize_t n = ::read(fd.get(), head, sizeof head - 1);
  constexpr char kElf[] = {0x7f, 'E', 'L', 'F'};
  if (n >= 4 && std::memcmp(head, kElf, sizeof kElf) == 0) return true;
  if (n < 3 || head[0] != '#' || head[1] != '!') return false;
  // The interpreter must be there too; if not, sh reports it as users know ("not found", 127).
  std::string_view line(head + 2, static_cast<size_t>(n - 2));
  line.remove_prefix(std::min(line.find_first_not_of(" \t"), line.size()));
  line = line.substr(0, line.find_first_of(" \t\n"));
  return !line.empty() && line[0] == '/' && ::access(std::string(line).c_str(), X_OK) == 0;
}

std::optional<fs::path> findProgram(const std::string& name, const std::vector<std::string>& env,
                                    const fs::path& cwd) {
  if (name.find('/') != std::string::npos) {
    fs::path p = name[0] == '/' ? fs::path(name) : cwd / name;
    if (executable(p)) return p;
    return std::nullopt;
  }
  std::string_view path;
  for (const auto& kv : env) {
    if (kv.starts_with("PATH=")) path = std::string_view(kv).substr(5);  // the last one wins
  }
  while (!path.empty()) {
    size_t colon = std::min(path.find(':'), path.size());
    std::string_view dir = path.substr(0, colon);
    path.remove_prefix(std::min(colon + 1, path.size()));
    // sh would search "" and relative entries (from the workspace) in their turn: leave it to sh.
    if (dir.empty() || dir[0] != '/') return std::nullopt;
    fs::path p = fs::path(dir) / name;
    if (executable(p)) return p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> directCommand(std::string_view script,
                                                      const std::vector<std::string>& env,
                                                      const fs::path& cwd) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < script.size()) {
    char c = script[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < script.size() && plain(script[i])) ++i;
    if (i < script.size() && script[i] != ' ' && script[i] != '\t') return std::nullopt;
    words.emplace_back(script.substr(start, i - start));
  }
  if (words.empty() || shellOnly(words[0]) || words[0].find('=') != std::string::npos) {
    return std::nullopt;
  }
  auto program = findProgram(words[0], env, cwd);
  if (!program) return std::nullopt;  // sh says "not found" (exit 127) as users know it
  words[0] = program->string();
  return words;
}

}  // namespace boucle::runner
