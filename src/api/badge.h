#pragma once
// A status badge as SVG (shields.io look): "build | passing". The label widths are measured
// with a fixed per-character estimate, which is what keeps it a few lines rather than a font
// engine.

#include <string>

namespace boucle::api {

// `state`: "passing", "failing" or anything else (grey).
std::string badgeSvg(const std::string& label, const std::string& state);

}  // namespace boucle::api
