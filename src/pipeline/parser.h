#pragma once
// Parses and validates a `.boucle.yml`. All errors are collected (not just the first), each
// with its 1-based line and column, so `boucle lint` can print them as FILE:LINE:COL.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/pipeline.h"

namespace boucle::pipeline {

struct Diagnostic {
  SourcePos pos;
  std::string message;
};

struct ParseResult {
  Pipeline pipeline;  // best effort even when there are errors; only use it when ok()
  std::vector<Diagnostic> errors;
  bool ok() const { return errors.empty(); }
};

ParseResult parsePipeline(std::string_view yamlText);

// Reads and parses a file; a file that cannot be read is a Status, not a diagnostic.
Result<ParseResult> loadPipelineFile(const std::filesystem::path& file);

// "FILE:LINE:COL: error: message" (LINE:COL omitted when unknown).
std::string formatDiagnostic(std::string_view file, const Diagnostic& d);

// One line describing a valid pipeline: "3 jobs, 4 environments, deploy via ssh, ...".
std::string summarize(const Pipeline& p);

}  // namespace boucle::pipeline
