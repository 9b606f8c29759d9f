#pragma once
// A pipeline file cut down to single jobs, as remote agents get them: `version` and the one job,
// without its `needs` (they ran elsewhere; their artifacts come with the job). A run of
// thousands of jobs then sends each agent a few lines, not the whole file, and each agent parses
// only those. The file is read once, the jobs cut out as they are asked for.

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace boucle::pipeline {

class JobTexts {
 public:
  explicit JobTexts(std::string_view pipelineText);
  ~JobTexts();
  JobTexts(const JobTexts&) = delete;
  JobTexts& operator=(const JobTexts&) = delete;

  // The file reduced to `job` alone: parsePipeline reads it as a pipeline of that one job.
  Result<std::string> alone(const std::string& job) const;

 private:
  struct Tree;
  std::unique_ptr<Tree> tree_;
};

}  // namespace boucle::pipeline
