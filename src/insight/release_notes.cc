#include "insight/release_notes.h"

#include <cctype>

namespace boucle::insight {

namespace {

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool isTypeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// The BREAKING CHANGE footer's text: from the footer to the end of its paragraph.
std::string breakingFooter(const std::string& message) {
  for (const char* key : {"BREAKING CHANGE:", "BREAKING-CHANGE:"}) {
    size_t at = message.find(key);
    while (at != std::string::npos && at > 0 && message[at - 1] != '\n') {
      at = message.find(key, at + 1);  // a footer starts a line
    }
    if (at == std::string::npos) continue;
    size_t start = at + std::string(key).size();
    size_t end = message.find("\n\n", start);
    std::string text = trim(message.substr(start, end == std::string::npos ? end : end - start));
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    return text.empty() ? "breaking change" : text;
  }
  return "";
}

std::string shortSha(const std::string& sha) {
  return sha.substr(0, 7);
}

}  // namespace

ConventionalCommit parseConventional(const std::string& message) {
  ConventionalCommit c;
  std::string subject = trim(message.substr(0, message.find('\n')));
  c.description = subject;
  c.breakingNote = breakingFooter(message);
  c.breaking = !c.breakingNote.empty();
  size_t i = 0;
  while (i < subject.size() && isTypeChar(subject[i])) ++i;
  if (i == 0) return c;
  std::string type = subject.substr(0, i);
  std::string scope;
  if (i < subject.size() && subject[i] == '(') {
    size_t close = subject.find(')', i);
    if (close == std::string::npos) return c;
    scope = trim(subject.substr(i + 1, close - i - 1));
    i = close + 1;
  }
  bool bang = i < subject.size() && subject[i] == '!';
  if (bang) ++i;
  if (i + 1 >= subject.size() || subject[i] != ':' || subject[i + 1] != ' ') return c;
  std::string description = trim(subject.substr(i + 2));
  if (description.empty()) return c;
  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  c.type = type;
  c.scope = scope;
  c.description = description;
  if (bang) {
    c.breaking = true;
    if (c.breakingNote.empty()) c.breakingNote = description;
  }
  return c;
}

Bump bumpFor(const std::vector<Change>& changes) {
  Bump b = Bump::kNone;
  for (const auto& ch : changes) {
    auto c = parseConventional(ch.message);
    if (c.breaking) return Bump::kMajor;
    if (c.type == "feat") {
      b = Bump::kMinor;
    } else if (b == Bump::kNone) {
      b = Bump::kPatch;
    }
  }
  return b;
}

std::string notesMarkdown(const std::string& version, const std::string& date,
                          const std::vector<Change>& changes) {
  std::string breaking, features, fixes, others;
  for (const auto& ch : changes) {
    auto c = parseConventional(ch.message);
    std::string line = "- " + (c.scope.empty() ? "" : "**" + c.scope + "**: ") + c.description +
                       " (" + shortSha(ch.sha) + ", " + ch.author + ")\n";
    if (c.breaking) breaking += "- " + c.breakingNote + " (" + shortSha(ch.sha) + ")\n";
    if (c.type == "feat") {
      features += line;
    } else if (c.type == "fix") {
      fixes += line;
    } else {
      // Other conventional types keep their name: "refactor: …", "docs: …".
      others += c.type.empty() ? line : "- " + c.type + ": " + line.substr(2);
    }
  }
  std::string md = "## " + version + " (" + date + ")\n";
  auto section = [&](const char* title, const std::string& body) {
    if (!body.empty()) md += std::string("\n### ") + title + "\n\n" + body;
  };
  section("Breaking changes", breaking);
  section("Features", features);
  section("Fixes", fixes);
  section("Other changes", others);
  if (changes.empty()) md += "\nNo changes since the previous release.\n";
  return md;
}

}  // namespace boucle::insight
