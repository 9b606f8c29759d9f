#pragma once
// What a Prometheus probe's answer says: the JSON of /api/v1/query judged against its bounds,
// or an endpoint's text exposition format checked line by line. Pure.

#include <optional>
#include <string>
#include <string_view>

#include "monitor/incident_tracker.h"

namespace boucle::monitor {

struct Judged {
  Verdict verdict = Verdict::kFail;
  std::string detail;
};

// Every series of the answer must be below `below` and above `above` (those given). No series
// (or only NaN) is no_data; an error answer or something else than Prometheus' JSON, a failure.
Judged judgeQuery(std::string_view body, std::optional<double> below, std::optional<double> above);

// Passes when every line is a comment, blank, or a sample (`name{labels} value [timestamp]`),
// and there is at least one sample (none: no_data).
Judged judgeExposition(std::string_view body);

}  // namespace boucle::monitor
