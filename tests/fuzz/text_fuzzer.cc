// libFuzzer target: the tokenizer (with and without the mail/HTML clean-up), bag-of-words parsing
// from raw text and from (id, count) pairs, supplied vocabularies (the input's lines as words),
// vocabulary deserialisation and the JSON reader. Built by run_fuzzers.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/data/json.h"
#include "engine/input/text.h"
#include "engine/input/text_clean.h"

namespace {
const bn::Vocabulary& Vocab() {
  static const auto* v = [] {
    absl::StatusOr<bn::Vocabulary> built = bn::Vocabulary::Build(
        {"oil prices rose sharply", "crude oil output fell", "wheat exports and grain prices",
         "\xC3\xA9t\xC3\xA9 caf\xC3\xA9 prices"},
        {});
    if (!built.ok()) std::abort();
    return new bn::Vocabulary(std::move(*built));
  }();
  return *v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const bn::Vocabulary& vocab = Vocab();
  const bool valid = bn::ValidateUtf8(text).ok();
  absl::StatusOr<std::vector<std::string>> tokens = bn::Tokenize(text, {});
  if (tokens.ok() != valid) std::abort();
  if (tokens.ok()) {
    for (const std::string& t : *tokens) {
      if (t.empty() || !bn::ValidateUtf8(t).ok()) std::abort();
    }
  }
  bn::TokenizerOptions mail;
  mail.max_length = 30;
  mail.strip_headers = mail.strip_quoted = mail.strip_encoded = mail.strip_markup = true;
  absl::StatusOr<std::vector<std::string>> cleaned = bn::Tokenize(text, mail);
  if (cleaned.ok() != valid) std::abort();
  if (valid) {
    if (!bn::ValidateUtf8(bn::CleanText(text, mail)).ok()) std::abort();
    for (const std::string& t : *cleaned) {
      if (t.empty() || t.size() > 30 * 4 || !bn::ValidateUtf8(t).ok()) std::abort();
    }
  }
  // The input's lines as a supplied vocabulary: valid ones load back after serialisation.
  std::vector<std::string> lines;
  for (size_t start = 0; start <= size && lines.size() < 256;) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = size;
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  absl::StatusOr<bn::Vocabulary> supplied = bn::Vocabulary::FromWords(lines, mail);
  if (supplied.ok()) {
    absl::StatusOr<bn::Vocabulary> back = bn::Vocabulary::Deserialize(supplied->Serialize());
    if (!back.ok() || back->size() != supplied->size()) std::abort();
    for (int i = 0; i < supplied->size(); ++i) {
      if (supplied->IdOf(supplied->word(i)) != i) std::abort();
    }
  }
  for (auto rep : {bn::DocumentRepresentation::kNormalizedCounts,
                   bn::DocumentRepresentation::kLogTf, bn::DocumentRepresentation::kTfIdf}) {
    absl::StatusOr<std::vector<float>> row = bn::TextToInput(vocab, text, rep);
    if (row.ok()) {
      if (static_cast<int>(row->size()) != vocab.size()) std::abort();
      for (float v : *row) {
        if (!std::isfinite(v) || v < 0) std::abort();
      }
    }
  }
  // (id, count) pairs: 4 bytes each.
  std::vector<int64_t> ids, counts;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    int16_t id;
    uint16_t count;
    std::memcpy(&id, data + i, 2);
    std::memcpy(&count, data + i + 2, 2);
    ids.push_back(id);
    counts.push_back(count);
  }
  absl::StatusOr<std::vector<float>> bow =
      bn::WordIdsToInput(vocab, ids, counts, bn::DocumentRepresentation::kNormalizedCounts);
  if (bow.ok()) {
    double sum = 0;
    for (float v : *bow) sum += v;
    if (std::abs(sum - 1.0) > 1e-3) std::abort();
  }
  absl::StatusOr<bn::Vocabulary> loaded = bn::Vocabulary::Deserialize(text);
  if (loaded.ok() && bn::Vocabulary::Deserialize(loaded->Serialize()).ok() == false) std::abort();
  (void)bn::ParseJson(text).ok();
  return 0;
}
