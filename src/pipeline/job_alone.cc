#include "pipeline/job_alone.h"

#include <yaml-cpp/yaml.h>

namespace boucle::pipeline {

struct JobTexts::Tree {
  YAML::Node root;
  std::string error;  // set when the text did not load
};

JobTexts::JobTexts(std::string_view pipelineText) : tree_(std::make_unique<Tree>()) {
  try {
    tree_->root = YAML::Load(std::string(pipelineText));
  } catch (const YAML::Exception& e) {
    tree_->error = e.what();
  }
}

JobTexts::~JobTexts() = default;

Result<std::string> JobTexts::alone(const std::string& job) const {
  if (!tree_->error.empty()) return Status::Invalid("the pipeline file: " + tree_->error);
  try {
    const YAML::Node jobs = tree_->root["jobs"];
    if (!jobs.IsMap() || !jobs[job]) return Status::NotFound("no job '" + job + "'");
    YAML::Node one = YAML::Clone(jobs[job]);
    if (one.IsMap()) one.remove("needs");
    YAML::Node doc;
    doc["version"] = 1;
    doc["jobs"][job] = one;
    YAML::Emitter out;
    out << doc;
    if (!out.good())
      return Status::Internal("cannot write job '" + job + "': " + out.GetLastError());
    return std::string(out.c_str()) + "\n";
  } catch (const YAML::Exception& e) {
    return Status::Invalid("the pipeline file: " + std::string(e.what()));
  }
}

}  // namespace boucle::pipeline
