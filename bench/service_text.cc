// Text retrieval through the API (issue 20), in the paper's protocol (Hinton & Salakhutdinov
// 2006, Fig. 4): models are trained on the training documents; every test document is stored as
// an item and queries the other test documents (Search by item, exact); precision = the fraction
// of retrieved documents with the query's label, at 1, 3, 7, ... 1023 retrieved (or fewer).
// Every model goes through the service: the auto-encoders (the default recipe, AE-2, binary
// codes), LSA (LsaSpec) and tf-idf itself (LSA with every component: a rotation of the tf-idf
// vectors, so cosine is unchanged).
//
//   bench_service_text --server 127.0.0.1:50051 [--corpus reuters|brown]
//       [--models ae10,ae2,lsa10,lsa50,tfidf,hash32] [--seeds 1,2,3] [--out DIR]
//       [--input text|word-ids] [--max-train N (a random N of the training documents)]
// --input word-ids sends the paper's format instead of text: the benchmark learns the same
// 2000-word vocabulary the service would (the service's default tokenizer and clean-up, from the
// training texts), counts every document against it and sends `word_ids` only (the collection
// gets an id-only vocabulary); documents without a vocabulary word are left out of both sets (in
// text mode the service skips or cannot encode the same documents).
// Prints a markdown table (mean and range over seeds) and RESULT lines; with --out, writes
// curves.csv and precision.png (the curves of the first seed) there.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/service_util.h"
#include "bench/text_corpora_impl.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/plot/plot.h"
#include "engine/input/text.h"
#include "server/core/recipes.h"

namespace v1 = ::bottleneck::v1;
using Clock = std::chrono::steady_clock;

namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;
using ::bn::bench::Flag;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Stubs {
  std::unique_ptr<v1::CollectionService::Stub> collections;
  std::unique_ptr<v1::TrainingService::Stub> training;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::ItemService::Stub> items;
  std::unique_ptr<v1::QueryService::Stub> query;
};

// One model to measure: its collection (float or binary codes) and spec.
struct ModelRun {
  std::string name;
  bool binary = false;
  v1::ModelSpec spec;  // Empty: the service's default recipe.
};

// `train_examples`: the training set's size, which the default recipe's schedule follows.
absl::StatusOr<ModelRun> RunFor(const std::string& name, uint64_t train_examples) {
  ModelRun run;
  run.name = name;
  // The server's default recipe for a 2000-word document collection, with another code size.
  auto resized_recipe = [&](bool binary, uint32_t code_size) {
    v1::CollectionSpec docs;
    docs.mutable_document()->set_vocabulary_size(2000);
    if (binary) docs.set_code_kind(v1::CODE_KIND_BINARY);
    bn::ApplyDefaultRecipe(docs, train_examples, &run.spec);
    run.spec.mutable_dense()->set_code_size(code_size);
  };
  if (name == "ae10") return run;  // The default recipe for documents.
  if (name == "ae2") {
    resized_recipe(false, 2);  // The paper's Fig. 4 maps.
    return run;
  }
  if (name.rfind("hash", 0) == 0) {  // Binary codes of the default recipe (hashN: N bits).
    run.binary = true;
    const int bits = std::atoi(name.c_str() + 4);
    if (bits < 1) return absl::InvalidArgumentError("hashN needs N >= 1: " + name);
    if (bits != 32) resized_recipe(true, static_cast<uint32_t>(bits));
    return run;
  }
  if (name.rfind("lsa", 0) == 0) {
    run.spec.mutable_lsa()->set_code_size(static_cast<uint32_t>(std::atoi(name.c_str() + 3)));
    return run;
  }
  if (name == "tfidf") {
    run.spec.mutable_lsa()->set_code_size(2000);
    return run;
  }
  return absl::InvalidArgumentError("unknown model " + name);
}

// Word counts of a corpus against the vocabulary the service learns from its training texts
// (word-ids mode); empty when not in that mode.
struct CorpusCounts {
  std::vector<bn::SparseVector> train, test;
};

void SetDocument(const bn::LabelledText& doc, const std::vector<bn::SparseVector>& counts, size_t i,
                 v1::Document* out) {
  if (counts.empty()) {
    out->set_text(doc.text);
    return;
  }
  for (size_t w = 0; w < counts[i].ids.size(); ++w) {
    out->mutable_word_ids()->add_ids(static_cast<uint32_t>(counts[i].ids[w]));
    out->mutable_word_ids()->add_counts(counts[i].values[w]);
  }
}

// The service's default tokenizer (server/core/text_pipeline.cc TokenizerFor of default
// TextOptions): tokens of 2-30 code points, no stop words, mail/news clean-up on.
bn::TokenizerOptions ServiceTokenizer() {
  bn::TokenizerOptions t;
  t.min_length = 2;
  t.max_length = 30;
  t.remove_stop_words = true;
  t.strip_headers = t.strip_quoted = t.strip_encoded = t.strip_markup = true;
  return t;
}

// Learns the vocabulary from the training texts, counts every document and drops the documents
// without a vocabulary word from `corpus`.
CorpusCounts CountCorpus(bn::TextCorpus* corpus) {
  bn::VocabularyOptions options;
  options.max_words = 2000;
  options.tokenizer = ServiceTokenizer();
  bn::VocabularyBuilder builder(options);
  for (const bn::LabelledText& doc : corpus->train) (void)builder.AddText(doc.text);
  auto vocab = builder.Finish();
  if (!vocab.ok()) {
    std::fprintf(stderr, "vocabulary: %s\n", vocab.status().ToString().c_str());
    std::exit(1);
  }
  CorpusCounts counts;
  auto count = [&](std::vector<bn::LabelledText>* docs, std::vector<bn::SparseVector>* out) {
    std::vector<bn::LabelledText> kept;
    for (bn::LabelledText& doc : *docs) {
      auto c = bn::CountWords(*vocab, doc.text);
      if (!c.ok()) continue;
      out->push_back(*std::move(c));
      kept.push_back(std::move(doc));
    }
    double words = 0;
    for (const bn::SparseVector& c : *out) {
      for (float v : c.values) words += v;
    }
    // The mean decides whether pre-training scales the lengths (max_mean_document_length, 64).
    std::printf("word ids: %zu of %zu documents have a vocabulary word; mean %.1f counted words\n",
                kept.size(), docs->size(), out->empty() ? 0.0 : words / out->size());
    *docs = std::move(kept);
  };
  count(&corpus->train, &counts.train);
  count(&corpus->test, &counts.test);
  return counts;
}

// Creates a document collection, uploads the training documents and stores the test documents
// (as text, or as word ids when `counts` has them).
void Prepare(Stubs& s, const std::string& collection, bool binary, const bn::TextCorpus& corpus,
             const CorpusCounts& counts) {
  v1::CreateCollectionRequest create;
  create.set_name(collection);
  create.mutable_spec()->mutable_document()->set_vocabulary_size(2000);
  create.mutable_spec()->mutable_document()->set_allow_raw_text(counts.train.empty());
  if (binary) {
    create.mutable_spec()->set_code_kind(v1::CODE_KIND_BINARY);
  } else {
    create.mutable_spec()->set_distance(v1::DISTANCE_COSINE);
  }
  v1::Collection created;
  Check(s.collections->CreateCollection(Ctx().get(), create, &created), "create " + collection);
  {
    auto ctx = Ctx(1800);
    v1::Dataset uploaded;
    auto writer = s.training->UploadDataset(ctx.get(), &uploaded);
    for (size_t b = 0; b < corpus.train.size(); b += 500) {
      v1::UploadDatasetRequest m;
      m.set_collection(collection);
      m.set_dataset("train");
      m.set_skip_invalid(true);  // A document may be empty after the mail clean-up.
      for (size_t i = b; i < std::min(corpus.train.size(), b + 500); ++i) {
        v1::Example* e = m.add_examples();
        SetDocument(corpus.train[i], counts.train, i, e->mutable_input()->mutable_document());
        e->set_label(corpus.train[i].label);
      }
      writer->Write(m);
    }
    writer->WritesDone();
    Check(writer->Finish(), "upload");
  }
  for (size_t b = 0; b < corpus.test.size(); b += 500) {
    v1::UpsertRequest request;
    request.set_collection(collection);
    for (size_t i = b; i < std::min(corpus.test.size(), b + 500); ++i) {
      v1::Item* item = request.add_items();
      item->set_id("test-" + std::to_string(i));
      SetDocument(corpus.test[i], counts.test, i, item->mutable_input()->mutable_document());
      item->set_label(corpus.test[i].label);
    }
    v1::UpsertResponse response;
    Check(s.items->Upsert(Ctx().get(), request, &response), "upsert");
  }
}

// Trains, promotes and waits until the new version serves; returns the model.
v1::Model TrainAndServe(Stubs& s, const std::string& collection, v1::ModelSpec spec,
                        uint64_t seed) {
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("train");
  spec.mutable_training()->set_seed(seed);
  *start.mutable_spec() = spec;
  start.set_promote_when_done(true);
  v1::Job job;
  Check(s.training->StartTraining(Ctx().get(), start, &job), "train");
  v1::GetJobRequest get;
  get.set_job_id(job.id());
  while (true) {
    Check(s.training->GetJob(Ctx().get(), get, &job), "get job");
    if (job.state() == v1::JOB_STATE_SUCCEEDED) break;
    if (job.state() > v1::JOB_STATE_SUCCEEDED) {
      std::fprintf(stderr, "job %s: %s\n", job.id().c_str(), job.error().c_str());
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  v1::GetCollectionRequest describe;
  describe.set_name(collection);
  while (true) {
    v1::Collection c;
    Check(s.collections->GetCollection(Ctx().get(), describe, &c), "get collection");
    if (c.stats().serving_model_version() == job.model_version() && !c.stats().has_promotion()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  v1::GetModelRequest get_model;
  get_model.set_collection(collection);
  get_model.set_version(job.model_version());
  v1::Model model;
  Check(s.models->GetModel(Ctx().get(), get_model, &model), "get model");
  return model;
}

// Mean precision at each cut-off: each test document searches the others (exact). A document
// the model cannot encode (no word of its vocabulary) is neither a query nor a result.
std::vector<double> Precision(Stubs& s, const std::string& collection, const bn::TextCorpus& corpus,
                              const std::vector<int>& cutoffs, int* skipped) {
  const int k = std::min<int>(cutoffs.back(), static_cast<int>(corpus.test.size()) - 1);
  std::vector<double> sums(cutoffs.size(), 0.0);
  *skipped = 0;
  for (size_t q = 0; q < corpus.test.size(); ++q) {
    v1::SearchRequest request;
    request.set_collection(collection);
    request.set_item_id("test-" + std::to_string(q));
    request.set_k(static_cast<uint32_t>(k));
    request.set_exact(true);
    v1::SearchResponse response;
    grpc::Status status = s.query->Search(Ctx().get(), request, &response);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      ++*skipped;  // "has no code for the serving model"
      continue;
    }
    Check(status, "search");
    int hits = 0;
    size_t c = 0;
    for (int i = 0; i < response.neighbors_size() && c < cutoffs.size(); ++i) {
      hits += response.neighbors(i).label() == corpus.test[q].label;
      while (c < cutoffs.size() && cutoffs[c] == i + 1) sums[c++] += double(hits) / (i + 1);
    }
  }
  for (double& v : sums) v /= static_cast<double>(corpus.test.size() - *skipped);
  return sums;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Flag(argc, argv, "server", "127.0.0.1:50051");
  const std::string corpus_name = Flag(argc, argv, "corpus", "reuters");
  const std::vector<std::string> models = Split(Flag(argc, argv, "models", "ae10,lsa10,lsa50"));
  std::vector<uint64_t> seeds;
  for (const std::string& seed : Split(Flag(argc, argv, "seeds", "1,2,3"))) {
    seeds.push_back(std::stoull(seed));
  }
  const std::string out = Flag(argc, argv, "out", "");
  auto corpus = bn::LoadTextCorpus(corpus_name);
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  // --max-train N: a random N of the training documents (a fixed draw): a small corpus, whose
  // vocabulary the service learns from those N alone.
  if (const std::string n = Flag(argc, argv, "max-train", ""); !n.empty()) {
    const size_t keep = std::stoul(n);
    if (keep < corpus->train.size()) {
      std::mt19937_64 rng(7);
      std::shuffle(corpus->train.begin(), corpus->train.end(), rng);
      corpus->train.resize(keep);
    }
  }
  const std::string input = Flag(argc, argv, "input", "text");
  if (input != "text" && input != "word-ids") {
    std::fprintf(stderr, "--input is text or word-ids\n");
    return 2;
  }
  const CorpusCounts counts = input == "word-ids" ? CountCorpus(&*corpus) : CorpusCounts{};
  std::printf("%s (%s): %zu training, %zu test documents, %zu labels\n\n", corpus_name.c_str(),
              input.c_str(), corpus->train.size(), corpus->test.size(), corpus->label_count);
  // The paper's axis (1, 3, 7, ... retrieved) and the usual 10 and 100, up to Search's k limit.
  std::vector<int> cutoffs;
  for (int k : {1, 3, 7, 10, 15, 31, 63, 100, 127, 255, 511, 1000}) {
    if (k < static_cast<int>(corpus->test.size())) cutoffs.push_back(k);
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  Stubs s{v1::CollectionService::NewStub(channel), v1::TrainingService::NewStub(channel),
          v1::ModelService::NewStub(channel), v1::ItemService::NewStub(channel),
          v1::QueryService::NewStub(channel)};
  std::map<bool, std::string> prepared;  // Code kind -> collection.
  std::printf("| model | seeds | P@1 | P@10 | P@100 | train s |\n|---|---|---|---|---|---|\n");
  std::vector<bn::plot::Series> curves;
  std::ofstream csv;
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    csv.open(out + "/curves.csv");
    csv << "model,seed,retrieved,precision\n";
  }
  for (const std::string& name : models) {
    auto run = RunFor(name, corpus->train.size());
    if (!run.ok()) {
      std::fprintf(stderr, "%s\n", run.status().ToString().c_str());
      return 2;
    }
    if (prepared.count(run->binary) == 0) {
      const std::string collection = corpus_name + (run->binary ? "-binary" : "-float");
      Prepare(s, collection, run->binary, *corpus, counts);
      prepared[run->binary] = collection;
    }
    const std::string& collection = prepared[run->binary];
    const bool deterministic = run->spec.has_lsa();  // LSA does not depend on the seed.
    std::vector<std::vector<double>> per_seed;
    double seconds = 0;
    for (uint64_t seed : seeds) {
      const auto t0 = Clock::now();
      const v1::Model model = TrainAndServe(s, collection, run->spec, seed);
      seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      int skipped = 0;
      per_seed.push_back(Precision(s, collection, *corpus, cutoffs, &skipped));
      const std::vector<double>& p = per_seed.back();
      std::printf("RESULT text corpus=%s input=%s model=%s seed=%llu version=%llu unencodable=%d",
                  corpus_name.c_str(), input.c_str(), name.c_str(),
                  static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(model.version()), skipped);
      for (size_t c = 0; c < cutoffs.size(); ++c) std::printf(" p%d=%.4f", cutoffs[c], p[c]);
      std::printf("\n");
      if (csv.is_open()) {
        for (size_t c = 0; c < cutoffs.size(); ++c) {
          csv << name << "," << seed << "," << cutoffs[c] << "," << p[c] << "\n";
        }
      }
      if (deterministic) break;
    }
    auto at = [&](int k, std::string* range) {
      size_t c = 0;
      while (c + 1 < cutoffs.size() && cutoffs[c] < k) ++c;
      double sum = 0, lo = 1, hi = 0;
      for (const auto& p : per_seed) {
        sum += p[c];
        lo = std::min(lo, p[c]);
        hi = std::max(hi, p[c]);
      }
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.4f-%.4f", lo, hi);
      *range = per_seed.size() > 1 ? std::string(" (") + buf + ")" : "";
      return sum / static_cast<double>(per_seed.size());
    };
    std::string r1, r10, r100;
    const double p1 = at(1, &r1), p10 = at(10, &r10), p100 = at(100, &r100);
    std::printf("| %s | %zu | %.4f%s | %.4f%s | %.4f%s | %.0f |\n", name.c_str(), per_seed.size(),
                p1, r1.c_str(), p10, r10.c_str(), p100, r100.c_str(),
                seconds / static_cast<double>(per_seed.size()));
    std::fflush(stdout);
    bn::plot::Series series;
    series.name = name;
    for (size_t c = 0; c < cutoffs.size(); ++c) {
      series.x.push_back(std::log2(cutoffs[c] + 1.0));
      series.y.push_back(per_seed.front()[c]);
    }
    curves.push_back(series);
  }
  if (!out.empty()) {
    bn::plot::LineChartOptions options;
    options.title = corpus_name + ": precision vs documents retrieved (test queries, test set)";
    options.x_label = "log2(retrieved + 1)";
    options.y_label = "precision";
    if (absl::Status st = bn::plot::LineChart(curves, options, out + "/precision.png"); !st.ok()) {
      std::fprintf(stderr, "plot: %s\n", st.ToString().c_str());
    }
  }
  return 0;
}
