#pragma once
// Masks secrets in a job's output stream before it reaches a log file or a terminal.
//
// Each secret is masked in the forms that usually slip past other CI systems: the raw value,
// every line of a multi-line value, base64 (standard and URL-safe alphabets, at each of the
// three byte alignments it can have inside a longer base64 blob), URL-encoding and JSON string
// escaping. Matching is streaming (Aho-Corasick), so a secret split across two writes of the
// job is still caught, and only the bytes that could still be the start of a secret are held
// back: ordinary output passes through at once. Memory is bounded by the longest pattern.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::runner {

inline constexpr std::string_view kMask = "***";

// Every byte string that must never appear in a log for these secret values.
std::vector<std::string> maskPatterns(const std::vector<std::string>& secrets);

class Masker {
 public:
  explicit Masker(const std::vector<std::string>& secrets);

  // Appends the masked form of everything that can no longer be part of a secret to `out`.
  void feed(std::string_view data, std::string& out);
  // End of stream: releases what was held back.
  void finish(std::string& out);
  bool empty() const { return maxLen_ == 0; }

 private:
  void build(const std::vector<std::string>& patterns);
  void emitUpTo(uint64_t end, std::string& out);

  // Dense automaton over byte classes: next_[state * classes_ + classOf_[byte]]. Bytes that
  // occur in no pattern share class 0, which keeps the table small enough to stay in cache:
  // the per-byte step is one dependent load.
  uint8_t classOf_[256] = {};
  uint32_t classes_ = 1;
  std::vector<int32_t> next_;
  std::vector<uint32_t> depth_;     // length of the prefix a state stands for
  std::vector<uint32_t> matchLen_;  // longest pattern ending in this state (0: none)
  size_t maxLen_ = 0;

  int32_t state_ = 0;
  uint64_t pos_ = 0;          // bytes consumed so far
  uint64_t pendingBase_ = 0;  // stream offset of pending_[0]
  std::string pending_;       // consumed but not yet released
  struct Span {
    uint64_t begin, end;
  };
  std::vector<Span> spans_;  // masked ranges not yet released, sorted, merged
};

}  // namespace boucle::runner
