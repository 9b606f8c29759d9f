#include "runner/masker.h"

#include <algorithm>
#include <array>
#include <deque>

namespace boucle::runner {

namespace {

// Patterns up to this length are matched whole by the automaton; longer ones by their first
// kAnchor bytes, then checked byte by byte.
constexpr size_t kAnchor = 16;
constexpr size_t kRing = 64;  // Scan::kRing: where a match of up to kAnchor bytes began

// Dense automaton over byte classes: next[state * classes + classOf[byte]]. Bytes that occur
// in no pattern share class 0, which keeps the table small enough to stay in cache: the
// per-byte step is one dependent load.
struct Automaton {
  bool skipBreaks = false;  // \r and \n are not consumed: wrapped text matches
  uint8_t classOf[256] = {};
  uint32_t classes = 1;
  std::vector<int32_t> next;
  std::vector<uint8_t> depth;       // length of the prefix a state stands for (≤ kAnchor)
  std::vector<uint8_t> hit;         // a short pattern ends here, or an anchor
  std::vector<uint8_t> shortLen;    // longest short pattern ending in this state (0: none)
  std::vector<int32_t> anchorSlot;  // -1, or the index in `anchors`
  std::vector<std::vector<uint32_t>> anchors;  // long patterns whose anchor ends here
  std::vector<std::string> longs;

  bool empty() const { return next.empty(); }
  size_t bytes() const {
    size_t n = next.size() * 4 + depth.size() * 8 + anchors.size() * 24;
    for (const auto& l : longs) n += l.capacity() + 32;
    return n;
  }
  void build(const std::vector<std::string>& patterns);
};

void Automaton::build(const std::vector<std::string>& patterns) {
  if (patterns.empty()) return;
  for (const auto& p : patterns) {
    for (size_t i = 0; i < std::min(p.size(), kAnchor); ++i) {
      unsigned char c = p[i];
      if (classOf[c] == 0 && classes < 256) classOf[c] = static_cast<uint8_t>(classes++);
    }
  }
  // Every byte used: class 0 stays empty, still correct.
  const uint32_t k = classes;
  // Trie of the patterns' first kAnchor bytes (-1: no edge), then breadth-first failure links
  // folded into a full transition table.
  std::vector<int32_t> trie(k, -1);
  depth.assign(1, 0);
  shortLen.assign(1, 0);
  anchorSlot.assign(1, -1);
  for (const auto& p : patterns) {
    int32_t s = 0;
    size_t n = std::min(p.size(), kAnchor);
    for (size_t i = 0; i < n; ++i) {
      uint8_t c = classOf[static_cast<unsigned char>(p[i])];
      if (trie[s * k + c] < 0) {
        trie[s * k + c] = static_cast<int32_t>(depth.size());
        trie.resize(trie.size() + k, -1);
        depth.push_back(static_cast<uint8_t>(depth[s] + 1));
        shortLen.push_back(0);
        anchorSlot.push_back(-1);
      }
      s = trie[s * k + c];
    }
    if (p.size() <= kAnchor) {
      shortLen[s] = std::max<uint8_t>(shortLen[s], static_cast<uint8_t>(p.size()));
    } else {
      if (anchorSlot[s] < 0) {
        anchorSlot[s] = static_cast<int32_t>(anchors.size());
        anchors.emplace_back();
      }
      anchors[anchorSlot[s]].push_back(static_cast<uint32_t>(longs.size()));
      longs.push_back(p);
    }
  }
  size_t n = depth.size();
  next.assign(n * k, 0);
  std::vector<int32_t> fail(n, 0);
  std::deque<int32_t> queue;
  for (uint32_t c = 0; c < k; ++c) {
    int32_t t = trie[c];
    next[c] = t < 0 ? 0 : t;
    if (t > 0) queue.push_back(t);
  }
  while (!queue.empty()) {
    int32_t s = queue.front();
    queue.pop_front();
    // A shorter pattern ending inside this one is a match too. Anchors are all kAnchor long,
    // so one ends only in its own state.
    shortLen[s] = std::max(shortLen[s], shortLen[fail[s]]);
    for (uint32_t c = 0; c < k; ++c) {
      int32_t t = trie[s * k + c];
      if (t < 0) {
        next[s * k + c] = next[fail[s] * k + c];
      } else {
        fail[t] = next[fail[s] * k + c];
        next[s * k + c] = t;
        queue.push_back(t);
      }
    }
  }
  hit.resize(n);
  for (size_t s = 0; s < n; ++s) hit[s] = shortLen[s] > 0 || anchorSlot[s] >= 0;
}

}  // namespace

struct MaskSet {
  std::array<Automaton, 2> automata;  // exact, then with line breaks skipped
  bool empty() const { return automata[0].empty() && automata[1].empty(); }
};

Masker::Masker(const std::vector<std::string>& secrets) {
  auto set = std::make_shared<MaskSet>();
  auto patterns = maskPatterns(secrets);
  set->automata[0].build(patterns.exact);
  set->automata[1].skipBreaks = true;
  set->automata[1].build(patterns.unwrapped);
  set_ = std::move(set);
  scans_.resize(2);
}

Masker::Masker(std::shared_ptr<const MaskSet> set) : set_(std::move(set)) {
  scans_.resize(2);
}

Masker Masker::fresh() const {
  return Masker(set_);
}

bool Masker::empty() const {
  return set_->empty();
}

size_t Masker::memoryBytes() const {
  return set_->automata[0].bytes() + set_->automata[1].bytes();
}

std::string Masker::mask(std::string_view text) const {
  Masker m = fresh();
  std::string out;
  m.feed(text, out);
  m.finish(out);
  return out;
}

void Masker::addSpan(uint64_t begin, uint64_t end) {
  // Spans come from two automata and long matches end late: keep the list sorted and merged.
  Span s{begin, end};
  auto at = std::lower_bound(spans_.begin(), spans_.end(), s,
                             [](const Span& a, const Span& b) { return a.begin < b.begin; });
  // Overlapping spans merge; adjacent ones stay apart, so that the output does not depend on
  // whether the first was already released when the second was found.
  if (at != spans_.begin() && std::prev(at)->end > s.begin) --at;
  auto last = at;
  while (last != spans_.end() && last->begin < s.end) {
    s.begin = std::min(s.begin, last->begin);
    s.end = std::max(s.end, last->end);
    ++last;
  }
  at = spans_.erase(at, last);
  spans_.insert(at, s);
}

// One byte through one automaton (the hot loop in feed() does the common case itself).
void Masker::step(Scan& scan, int which, unsigned char c, uint64_t at) {
  const Automaton& a = set_->automata[which];
  scan.origin[scan.consumed % kRing] = at;
  ++scan.consumed;
  if (!scan.candidates.empty()) {
    auto& list = scan.candidates;
    for (size_t i = 0; i < list.size();) {
      auto& cand = list[i];
      const std::string& p = a.longs[cand.id];
      if (static_cast<unsigned char>(p[cand.next]) != c) {
        list[i] = list.back();
        list.pop_back();
      } else if (++cand.next == p.size()) {
        addSpan(cand.start, at + 1);
        list[i] = list.back();
        list.pop_back();
      } else {
        ++i;
      }
    }
  }
  scan.state = a.next[static_cast<uint32_t>(scan.state) * a.classes + a.classOf[c]];
  if (!a.hit[scan.state]) return;
  if (uint8_t len = a.shortLen[scan.state]) addSpan(scan.startOf(scan.consumed - len), at + 1);
  if (int32_t slot = a.anchorSlot[scan.state]; slot >= 0) {
    uint64_t start = scan.startOf(scan.consumed - kAnchor);
    for (uint32_t id : a.anchors[slot]) {
      scan.candidates.push_back({id, start, static_cast<uint32_t>(kAnchor)});
    }
  }
}

void Masker::feed(std::string_view data, std::string& out) {
  if (set_->empty()) {
    out.append(data);
    return;
  }
  pending_.append(data);
  for (int which = 0; which < 2; ++which) {
    const Automaton& a = set_->automata[which];
    if (a.empty()) continue;
    Scan& scan = scans_[which];
    // Locals in the hot loop: the compiler cannot keep members in registers across calls.
    const int32_t* next = a.next.data();
    const uint8_t* hit = a.hit.data();
    const uint8_t* classOf = a.classOf;
    const uint32_t k = a.classes;
    uint64_t base = pos_;
    for (size_t i = 0; i < data.size(); ++i) {
      unsigned char c = data[i];
      if (a.skipBreaks && (c == '\n' || c == '\r')) continue;
      if (!scan.candidates.empty()) [[unlikely]] {
        step(scan, which, c, base + i);
        continue;
      }
      int32_t s = next[static_cast<uint32_t>(scan.state) * k + classOf[c]];
      if (hit[s]) [[unlikely]] {
        step(scan, which, c, base + i);
        continue;
      }
      scan.state = s;
      scan.origin[scan.consumed % kRing] = base + i;
      ++scan.consumed;
    }
  }
  pos_ += data.size();
  emitUpTo(holdFrom(), out);
}

// The first byte that may still belong to a secret: where a partial match or a long pattern
// being checked began.
uint64_t Masker::holdFrom() const {
  uint64_t from = pos_;
  for (int which = 0; which < 2; ++which) {
    const Automaton& a = set_->automata[which];
    if (a.empty()) continue;
    const Scan& scan = scans_[which];
    if (uint8_t d = a.depth[scan.state]) from = std::min(from, scan.startOf(scan.consumed - d));
    for (const auto& c : scan.candidates) from = std::min(from, c.start);
  }
  return from;
}

void Masker::finish(std::string& out) {
  if (set_->empty()) return;
  emitUpTo(pos_, out);
  for (auto& scan : scans_) {
    scan.state = 0;
    scan.candidates.clear();
  }
}

void Masker::emitUpTo(uint64_t end, std::string& out) {
  // A masked span that reaches past `end` may still grow (overlapping secrets): wait for it.
  if (!spans_.empty() && spans_.back().end > end) end = std::min(end, spans_.back().begin);
  uint64_t at = pendingBase_;
  size_t si = 0;
  while (at < end) {
    if (si < spans_.size() && spans_[si].begin <= at) {
      out.append(kMask);
      at = spans_[si].end;
      ++si;
      continue;
    }
    uint64_t stop = si < spans_.size() ? std::min(end, spans_[si].begin) : end;
    out.append(pending_, at - pendingBase_, stop - at);
    at = stop;
  }
  spans_.erase(spans_.begin(), spans_.begin() + si);
  pending_.erase(0, at - pendingBase_);
  pendingBase_ = at;
}

}  // namespace boucle::runner
