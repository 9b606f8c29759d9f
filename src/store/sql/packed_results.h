#pragma once
// An attempt's test results in one database value, small enough that every case of every run
// can be kept: sorted by test id, each case two varints (the gap from the previous id, then the
// duration in tenths of a millisecond with the outcome in its two low bits), base64 so that
// every backend stores it as text. A 5,000-case job packs to about 15 KB
// (BM_TestBookRecord5000Cases).
// Written here because no library packs integers this way without a format of its own.

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace boucle::store {

std::string packResults(std::vector<TestResult> results);
// Invalid when the text is not what packResults wrote.
Result<std::vector<TestResult>> unpackResults(std::string_view packed);

}  // namespace boucle::store
