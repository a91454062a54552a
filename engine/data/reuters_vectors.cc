#include "engine/data/reuters_vectors.h"

#include <new>

namespace bn {

absl::StatusOr<ReutersCorpus> LoadReutersCorpus(const std::string& package_dir,
                                                const std::string& split_tsv,
                                                const ReutersCorpusOptions& options) {
  ReutersOptions load;
  load.single_topic_only = options.single_topic_only;
  load.unlabelled_training_text = options.unlabelled_training_text;
  absl::StatusOr<std::vector<ReutersDocument>> docs =
      LoadReutersModApte(package_dir, split_tsv, load);
  if (!docs.ok()) return docs.status();
  try {
    std::vector<std::string> train_texts;
    for (const ReutersDocument& d : *docs) {
      if (d.split == ReutersSplit::kTrain) train_texts.push_back(d.text());
    }
    absl::StatusOr<Vocabulary> vocab = Vocabulary::Build(train_texts, options.vocabulary);
    if (!vocab.ok()) return vocab.status();
    ReutersCorpus corpus;
    corpus.vocab = std::move(*vocab);
    TopicLabels labels = FirstTopicLabels(*docs);
    corpus.topic_names = std::move(labels.names);
    for (size_t i = 0; i < docs->size(); ++i) {
      const ReutersDocument& d = (*docs)[i];
      absl::StatusOr<SparseVector> counts = CountWords(corpus.vocab, d.text());
      if (!counts.ok()) {
        if (counts.status().code() != absl::StatusCode::kInvalidArgument ||
            !ValidateUtf8(d.text()).ok()) {
          return counts.status();
        }
        ++corpus.dropped_empty;
        continue;
      }
      const bool train = d.split == ReutersSplit::kTrain;
      (train ? corpus.train_counts : corpus.test_counts).push_back(std::move(*counts));
      (train ? corpus.train_labels : corpus.test_labels).push_back(labels.labels[i]);
      (train ? corpus.train_ids : corpus.test_ids).push_back(d.id);
    }
    return corpus;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("Reuters corpus: out of memory");
  }
}

absl::StatusOr<std::vector<SparseVector>> RepresentAllSparse(
    const Vocabulary& vocab, const std::vector<SparseVector>& counts,
    DocumentRepresentation representation) {
  std::vector<SparseVector> out;
  out.reserve(counts.size());
  for (const SparseVector& c : counts) {
    absl::StatusOr<SparseVector> r = Represent(vocab, c, representation);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

absl::StatusOr<FloatMatrix> RepresentAll(const Vocabulary& vocab,
                                         const std::vector<SparseVector>& counts,
                                         DocumentRepresentation representation) {
  try {
    FloatMatrix m(static_cast<int64_t>(counts.size()), vocab.size());
    for (size_t r = 0; r < counts.size(); ++r) {
      absl::StatusOr<SparseVector> v = Represent(vocab, counts[r], representation);
      if (!v.ok()) return v.status();
      for (size_t i = 0; i < v->ids.size(); ++i) {
        m.at(static_cast<int64_t>(r), v->ids[i]) = v->values[i];
      }
    }
    return m;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("RepresentAll: out of memory");
  }
}

}  // namespace bn
