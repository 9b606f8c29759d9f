#pragma once
// Private to the parser: typed readers over yaml-cpp nodes that record a diagnostic (with the
// node's position) instead of throwing, so one pass reports every problem in the file.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "pipeline/parser.h"

namespace boucle::pipeline::detail {

class Diagnostics {
 public:
  void error(SourcePos pos, std::string message) { list_.push_back({pos, std::move(message)}); }
  std::vector<Diagnostic>& list() { return list_; }

 private:
  std::vector<Diagnostic> list_;
};

// A value together with where it was written (the key's position when the value has none).
struct Field {
  YAML::Node node;
  SourcePos pos;
  std::string key;
  SourcePos keyPos;
  bool present = false;  // a default YAML::Node is "defined" (as null), so presence is explicit
  explicit operator bool() const { return present; }
};

SourcePos posOf(const YAML::Node& node, SourcePos fallback = {});

// Checks that `node` is a mapping whose keys are all in `allowed`; unknown keys get a
// "did you mean" suggestion, duplicate keys an error. Lookups of absent keys yield an empty Field.
class MapReader {
 public:
  MapReader(const YAML::Node& node, SourcePos pos, std::string_view what,
            std::vector<std::string_view> allowed, Diagnostics& diags);
  bool isMap() const { return isMap_; }
  Field get(std::string_view key) const;
  const std::vector<Field>& fields() const { return fields_; }

 private:
  bool isMap_ = false;
  std::vector<Field> fields_;
};

// Iterates any mapping in file order, reporting duplicate keys (used for user-named entries:
// jobs, environments, env variables).
std::vector<Field> mapEntries(const YAML::Node& node, SourcePos pos, std::string_view what,
                              Diagnostics& diags);

std::optional<std::string> readString(const Field& f, Diagnostics& d);
std::optional<bool> readBool(const Field& f, Diagnostics& d);
std::optional<int> readInt(const Field& f, int min, int max, Diagnostics& d);
std::optional<Millis> readDuration(const Field& f, Diagnostics& d);
std::optional<double> readPercent(const Field& f, Diagnostics& d);
std::optional<double> readNumber(const Field& f, Diagnostics& d);
// A list of strings; a single scalar is accepted as a one-element list.
std::optional<std::vector<std::string>> readStringList(const Field& f, Diagnostics& d,
                                                       std::vector<SourcePos>* positions = nullptr);
// Cron expressions (one or a list), each checked; `section` names them in messages.
std::vector<std::string> readCrons(const Field& f, std::string_view section, Diagnostics& d);
// A list of workspace-relative globs, each validated.
std::vector<std::string> readGlobs(const Field& f, Diagnostics& d);
// Checks "{{ root.key }}" references in a string: balanced braces and a known root.
void checkTemplate(const Field& f, std::string_view text, Diagnostics& d);

// An `expect:` of an http check: status, contains and (where `within` is given) within.
void parseExpect(const Field& f, int& status, std::string& contains, Millis* within,
                 Diagnostics& d);

// A list of probes (the `monitor` section, an environment's `verify: {checks}`), at most `max`;
// `section` names it in messages.
void parseProbeList(const Field& f, std::string_view section, size_t max, std::vector<Monitor>& out,
                    Diagnostics& d);

// Reads an enumerated keyword, listing the accepted words (and a suggestion) when it is not one.
std::optional<std::string> readKeyword(const Field& f, const std::vector<std::string_view>& words,
                                       Diagnostics& d);

}  // namespace boucle::pipeline::detail
