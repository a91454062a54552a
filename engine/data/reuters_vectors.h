// The Reuters-21578 document pipeline shared by tests, benchmarks and the demo: ModApte
// documents -> vocabulary learned from the training documents -> word counts per document ->
// any representation (the paper's normalised counts for auto-encoders, tf-idf for LSA), with
// topic labels for retrieval precision.
#ifndef BOTTLENECK_ENGINE_DATA_REUTERS_VECTORS_H_
#define BOTTLENECK_ENGINE_DATA_REUTERS_VECTORS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/reuters.h"
#include "engine/input/text.h"
#include "engine/util/matrix.h"

namespace bn {

struct ReutersCorpusOptions {
  bool single_topic_only = true;  // The paper's retrieval figure uses single-topic documents.
  bool unlabelled_training_text = false;  // ReutersOptions::unlabelled_training_text (label -1).
  VocabularyOptions vocabulary;           // V = 2000 by default.
};

struct ReutersCorpus {
  Vocabulary vocab;  // Learned from the training documents only.
  std::vector<std::string> topic_names;
  // Documents with at least one vocabulary word (the others are dropped and counted below).
  std::vector<SparseVector> train_counts, test_counts;
  std::vector<int> train_labels, test_labels;  // Index into topic_names (first topic).
  std::vector<int64_t> train_ids, test_ids;    // Reuters NEWIDs.
  int64_t dropped_empty = 0;
};

// NotFound / DataLoss as LoadReutersModApte; InvalidArgument from the vocabulary.
[[nodiscard]] absl::StatusOr<ReutersCorpus> LoadReutersCorpus(
    const std::string& package_dir, const std::string& split_tsv,
    const ReutersCorpusOptions& options = {});

// Dense rows of `counts` in a representation (vocab.size() columns).
[[nodiscard]] absl::StatusOr<FloatMatrix> RepresentAll(const Vocabulary& vocab,
                                                       const std::vector<SparseVector>& counts,
                                                       DocumentRepresentation representation);
// The same, sparse (for FitLsa).
[[nodiscard]] absl::StatusOr<std::vector<SparseVector>> RepresentAllSparse(
    const Vocabulary& vocab, const std::vector<SparseVector>& counts,
    DocumentRepresentation representation);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_DATA_REUTERS_VECTORS_H_
