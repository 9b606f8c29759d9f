#pragma once
// Masks secrets in a stream of output (a job's, a deploy step's) before it reaches a log file,
// a terminal, the database or an API answer.
//
// Each secret is masked in the forms that usually slip past other CI systems: the raw value,
// every line of a multi-line value, base64 (standard and URL-safe alphabets, at each of the
// three byte alignments it can have inside a longer base64 text, and wrapped into lines at any
// width, as `base64` and PEM print it), hex in either case (`xxd -p` wraps it too),
// percent-encoding (RFC 3986, keeping `/`, form encoding with `+` for spaces, either case) and
// JSON string escaping (short or \u00XX escapes, either case, `\/`, ASCII-only).
//
// Matching is streaming, so a secret split across two writes is still caught, and only bytes
// that could still belong to a secret are held back. Short patterns go through an Aho-Corasick
// automaton; a long one (a 16 KB key) is found by its first 16 bytes and then checked byte by
// byte, so the automaton grows with the number of patterns, not their length: one 16 KB
// secret takes 1-2 MB (its patterns included), not the 130-180 MB a full automaton took.
// The automata are built once and shared by every stream masking the same secrets.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::runner {

inline constexpr std::string_view kMask = "***";

// Every byte string that must never appear in a log for these secret values: those matched
// exactly, and those matched with line breaks ignored (base64 and hex, which tools wrap).
struct MaskPatterns {
  std::vector<std::string> exact;
  std::vector<std::string> unwrapped;
};
MaskPatterns maskPatterns(const std::vector<std::string>& secrets);

struct MaskSet;  // the built automata, immutable, shared

class Masker {
 public:
  explicit Masker(const std::vector<std::string>& secrets);
  // A new stream over the same secrets: shares the automata (cheap), starts empty.
  Masker fresh() const;

  // Appends the masked form of everything that can no longer be part of a secret to `out`.
  void feed(std::string_view data, std::string& out);
  // End of stream: releases what was held back. The stream may then start again.
  void finish(std::string& out);
  bool empty() const;
  // `text` masked whole, on a stream of its own (this one is left as it is).
  std::string mask(std::string_view text) const;
  // The bytes the shared automata take (for the benchmarks).
  size_t memoryBytes() const;

 private:
  // One automaton's place in the stream.
  struct Scan {
    static constexpr size_t kRing = 64;  // ≥ the longest pattern matched whole, plus one
    int32_t state = 0;
    uint64_t consumed = 0;                 // bytes this automaton consumed (breaks skipped)
    std::array<uint64_t, kRing> origin{};  // stream offset of consumed byte i, at i % kRing
    struct Candidate {
      uint32_t id;     // a long pattern being checked byte by byte
      uint64_t start;  // stream offset of its first byte
      uint32_t next;   // index of the next byte to check
    };
    std::vector<Candidate> candidates;
    uint64_t startOf(uint64_t consumedIndex) const { return origin[consumedIndex % kRing]; }
  };

  explicit Masker(std::shared_ptr<const MaskSet> set);
  void step(Scan& scan, int which, unsigned char c, uint64_t at);
  void addSpan(uint64_t begin, uint64_t end);
  uint64_t holdFrom() const;
  void emitUpTo(uint64_t end, std::string& out);

  std::shared_ptr<const MaskSet> set_;
  std::vector<Scan> scans_;   // one per automaton of the set
  uint64_t pos_ = 0;          // bytes consumed so far
  uint64_t pendingBase_ = 0;  // stream offset of pending_[0]
  std::string pending_;       // consumed but not yet released
  struct Span {
    uint64_t begin, end;
  };
  std::vector<Span> spans_;  // masked ranges not yet released, sorted, merged
};

}  // namespace boucle::runner
