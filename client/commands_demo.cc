// CLI: `bottleneck demo`, the whole story on Fashion-MNIST against a running server, told step
// by step with timings, ending in plots (client/plot).
//
//  1. create a collection (images 28x28x1)        6. example searches, neighbours' labels
//  2. upload the training images with labels       7. precision@10: AE-30 vs PCA-30
//  3. train 784-1000-500-250-30 (RBM pre-trained)  8. a 2-D model (784-512-256-2) for pictures
//  4. promote it                                   9. plots: 2-D codes (PCA vs AE), originals
//  5. upsert the test images with labels              vs reconstructions, a query and its
//                                                     neighbours, the decoder over a 2-D grid,
//                                                     loss curves
// The collection is deleted at the end unless --keep. Step 9 is client/demo_plots.cc.
#include <google/protobuf/struct.pb.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "client/cli.h"
#include "client/demo.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/input/image.h"
#include "engine/model/pca.h"

namespace bn::cli {

namespace demo {

const char* const kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string Fixed(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, v);
  return buffer;
}

const std::map<int, double>& LossOf(const Curves& curves, const std::string& phase) {
  static const std::map<int, double> kNone;
  auto it = curves.loss.find(phase);
  return it == curves.loss.end() ? kNone : it->second;
}

bool EncodeRows(Client& client, const std::string& collection, const LabeledImages& data,
                int64_t rows, uint64_t version, FloatMatrix* codes) {
  constexpr int64_t kBatch = 512;
  *codes = FloatMatrix();
  for (int64_t start = 0; start < rows; start += kBatch) {
    v1::EncodeRequest request;
    request.set_collection(collection);
    request.set_model_version(version);
    for (int64_t i = start; i < std::min(rows, start + kBatch); ++i) {
      *request.add_inputs() = GreyRowToInput(data.images, i, data.height, data.width);
    }
    v1::EncodeResponse response;
    grpc::Status s = client.query().Encode(client.Context().get(), request, &response);
    if (!s.ok()) {
      Fail("encode", s);
      return false;
    }
    for (const v1::Code& code : response.codes()) {
      const auto& values = code.float_code().values();
      if (codes->rows == 0) codes->cols = values.size();
      if (static_cast<int64_t>(values.size()) != codes->cols) {
        std::fprintf(stderr, "bottleneck: encode returned codes of different sizes\n");
        return false;
      }
      codes->data.insert(codes->data.end(), values.begin(), values.end());
      ++codes->rows;
    }
  }
  return true;
}

bool DecodeRows(Client& client, const std::string& collection, const FloatMatrix& codes,
                uint64_t version, std::vector<Image>* images) {
  constexpr int64_t kBatch = 512;
  for (int64_t start = 0; start < codes.rows; start += kBatch) {
    v1::DecodeRequest request;
    request.set_collection(collection);
    request.set_model_version(version);
    for (int64_t i = start; i < std::min(codes.rows, start + kBatch); ++i) {
      auto* values = request.add_codes()->mutable_float_code()->mutable_values();
      values->Add(codes.row(i), codes.row(i) + codes.cols);
    }
    v1::DecodeResponse response;
    grpc::Status s = client.query().Decode(client.Context().get(), request, &response);
    if (!s.ok()) {
      Fail("decode", s);
      return false;
    }
    for (const v1::Output& output : response.outputs()) {
      auto image = DecodePng(output.image().encoded());
      if (!image.ok()) {
        std::fprintf(stderr, "bottleneck: decoded image: %s\n",
                     std::string(image.status().message()).c_str());
        return false;
      }
      images->push_back(std::move(*image));
    }
  }
  return true;
}

}  // namespace demo

namespace {

using demo::Curves;
using demo::EncodeRows;
using demo::Fixed;
using demo::kClassNames;

struct DemoOptions {
  std::string out = "bottleneck-demo";
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string collection = "demo-fashion";
  uint64_t train_examples = 0;  // 0: all.
  uint64_t test_examples = 10000;
  uint64_t epochs = 10;
  uint64_t pretrain_epochs = 3;
  uint64_t examples_2d = 20000;
  uint64_t epochs_2d = 10;
  uint64_t scatter_points = 5000;
  bool keep = false;
};

class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void Step(int index, int count, const std::string& text) {
  std::printf("\n[%d/%d] %s\n", index, count, text.c_str());
  std::fflush(stdout);
}

void Done(const Stopwatch& watch, const std::string& text = "") {
  std::printf("      %s%s(%.1f s)\n", text.c_str(), text.empty() ? "" : "  ", watch.Seconds());
  std::fflush(stdout);
}

// Watches a job with a progress bar on stderr, recording the curves. Fills `job` with its final
// state; false (after printing why) when watching failed.
bool Watch(Client& client, const std::string& job_id, Curves* curves, v1::Job* job) {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto context = client.Context(0);
  auto reader = client.training().WatchJob(context.get(), request);
  const bool tty = isatty(STDERR_FILENO);
  v1::JobProgress p;
  std::string last_phase, last_line;
  while (reader->Read(&p)) {
    if (p.epoch() > 0) {
      if (curves->loss.count(p.phase()) == 0) curves->phases.push_back(p.phase());
      curves->loss[p.phase()][static_cast<int>(p.epoch())] = p.loss();
      if (p.phase() == "fine-tune") {
        // The validation error is measured at each epoch's end: a progress message of epoch e
        // carries epoch e's when it is the end-of-epoch report, else epoch e-1's.
        const int measured = p.step() == p.steps_per_epoch() ? static_cast<int>(p.epoch())
                                                             : static_cast<int>(p.epoch()) - 1;
        if (measured >= 1 && p.validation_error() >= 0) {
          curves->validation[measured] = p.validation_error();
        }
      }
    }
    const double within =
        p.steps_per_epoch() > 0 ? static_cast<double>(p.step()) / p.steps_per_epoch() : 1.0;
    const double phase_fraction = p.epochs() > 0 ? (p.epoch() - 1 + within) / p.epochs() : 0;
    const int filled = static_cast<int>(std::clamp(phase_fraction, 0.0, 1.0) * 24);
    if (p.phase().empty()) continue;  // Queued.
    char line[256];
    if (p.epochs() == 0) {  // A phase without epochs (PCA baseline, evaluation).
      std::snprintf(line, sizeof(line), "      [%s] %-14s %57.0f s", std::string(24, ' ').c_str(),
                    p.phase().c_str(), p.elapsed_seconds());
    } else {
      std::snprintf(line, sizeof(line),
                    "      [%s%s] %-14s epoch %2u/%-2u loss %9.4f  val %6s  %7.0f/s  %4.0f s",
                    std::string(filled, '#').c_str(), std::string(24 - filled, '.').c_str(),
                    p.phase().c_str(), p.epoch(), p.epochs(), p.loss(),
                    p.validation_error() >= 0 ? Fixed(p.validation_error(), 2).c_str() : "-",
                    p.samples_per_second(), p.elapsed_seconds());
    }
    if (tty) {
      std::fprintf(stderr, "\r%s", line);
    } else {  // Without a terminal: each phase's last line.
      if (p.phase() != last_phase && !last_line.empty()) {
        std::fprintf(stderr, "%s\n", last_line.c_str());
      }
      last_phase = p.phase();
      last_line = line;
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  if (!tty && !last_line.empty()) std::fprintf(stderr, "%s\n", last_line.c_str());
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    Fail("watch job", s);
    return false;
  }
  v1::GetJobRequest get;
  get.set_job_id(job_id);
  s = client.training().GetJob(client.Context().get(), get, job);
  if (!s.ok()) {
    Fail("get job", s);
    return false;
  }
  return true;
}

// Starts a dense auto-encoder job and watches it; returns the model version (0 on failure).
uint64_t TrainModel(Client& client, const std::string& collection, const std::string& dataset,
                    const v1::ModelSpec& spec, Curves* curves, v1::Model* model) {
  v1::StartTrainingRequest request;
  request.set_collection(collection);
  request.set_dataset(dataset);
  *request.mutable_spec() = spec;
  request.set_description("bottleneck demo");
  v1::Job job;
  grpc::Status s = client.training().StartTraining(client.Context().get(), request, &job);
  if (!s.ok()) {
    Fail("start training", s);
    return 0;
  }
  if (!Watch(client, job.id(), curves, &job)) return 0;
  if (job.state() != v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "bottleneck: job %s ended %s: %s\n", job.id().c_str(),
                 v1::JobState_Name(job.state()).c_str(), job.error().c_str());
    return 0;
  }
  v1::GetModelRequest get;
  get.set_collection(collection);
  get.set_version(job.model_version());
  s = client.models().GetModel(client.Context().get(), get, model);
  if (!s.ok()) {
    Fail("get model", s);
    return 0;
  }
  // The last epoch's end-of-epoch report can be superseded by the "evaluate" phase before the
  // watcher sees it; the model's report holds that final validation error.
  const uint32_t epochs = spec.training().epochs();
  if (epochs > 0 && curves->validation.count(static_cast<int>(epochs)) == 0) {
    curves->validation[static_cast<int>(epochs)] = model->report().reconstruction_error();
  }
  return job.model_version();
}

bool Upload(Client& client, const std::string& collection, const std::string& dataset,
            const LabeledImages& data, int64_t rows) {
  auto context = client.Context(0);
  v1::Dataset result;
  auto writer = client.training().UploadDataset(context.get(), &result);
  constexpr int64_t kBatch = 500;
  for (int64_t start = 0; start < rows; start += kBatch) {
    v1::UploadDatasetRequest message;
    message.set_collection(collection);
    message.set_dataset(dataset);
    for (int64_t i = start; i < std::min(rows, start + kBatch); ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = GreyRowToInput(data.images, i, data.height, data.width);
      example->set_label(kClassNames[data.labels[i]]);
    }
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    Fail("upload dataset " + dataset, s);
    return false;
  }
  return true;
}

int ParseDemoOptions(const Args& args, DemoOptions* o) {
  o->out = args.Get("out", o->out);
  o->data = args.Get("data", o->data);
  o->collection = args.Get("collection", o->collection);
  o->keep = args.Has("keep");
  if (!args.GetUint("train-examples", o->train_examples, &o->train_examples) ||
      !args.GetUint("test-examples", o->test_examples, &o->test_examples) ||
      !args.GetUint("epochs", o->epochs, &o->epochs) ||
      !args.GetUint("pretrain-epochs", o->pretrain_epochs, &o->pretrain_epochs) ||
      !args.GetUint("examples-2d", o->examples_2d, &o->examples_2d) ||
      !args.GetUint("epochs-2d", o->epochs_2d, &o->epochs_2d) ||
      !args.GetUint("scatter-points", o->scatter_points, &o->scatter_points)) {
    return kExitUsage;
  }
  if (o->epochs == 0 || o->epochs_2d == 0 || o->test_examples < 20 || o->scatter_points == 0 ||
      o->examples_2d < 100 || (o->train_examples != 0 && o->train_examples < 100)) {
    std::fprintf(stderr,
                 "bottleneck: --epochs and --epochs-2d must be >= 1, --test-examples >= 20,\n"
                 "  --train-examples and --examples-2d >= 100, --scatter-points >= 1\n");
    return kExitUsage;
  }
  return kExitOk;
}

const char kDemoUsage[] =
    "usage: bottleneck demo [--server HOST:PORT] [--token-file F] [--tls-ca F] [--out DIR]\n"
    "         [--collection NAME] [--train-examples N] [--test-examples N] [--epochs N]\n"
    "         [--pretrain-epochs N] [--examples-2d N] [--epochs-2d N] [--scatter-points N]\n"
    "         [--data DIR] [--keep]\n"
    "The whole story on Fashion-MNIST against a running server: create a collection, upload the\n"
    "training set, train the RBM-pre-trained 784-1000-500-250-30 auto-encoder, promote it, index\n"
    "the test set, search, compare precision@10 with PCA and write plots into --out (default\n"
    "./bottleneck-demo). Defaults: all 60000 training images, 3 RBM epochs per layer and 10\n"
    "fine-tuning epochs (the paper used 50 and 200; see README), a 784-512-256-2 model on 20000\n"
    "images for the 2-D pictures. The collection (default demo-fashion) is deleted at the end\n"
    "unless --keep.\n";

}  // namespace

// Sets summary[key] to a number.
void SetNumber(google::protobuf::Struct* summary, const std::string& key, double value) {
  (*summary->mutable_fields())[key].set_number_value(value);
}

// The demo; fills `summary` (the --json result) with its figures as it goes.
int RunDemo(Client& base_client, const std::vector<std::string>& words,
            google::protobuf::Struct* summary) {
  Args args(words, {"keep", "help"});
  DemoOptions o;
  if (!args.error().empty() || !args.positional().empty() || args.Has("help")) {
    std::fprintf(stderr, "%s", kDemoUsage);
    return args.Has("help") ? kExitOk : kExitUsage;
  }
  if (int rc = ParseDemoOptions(args, &o); rc != kExitOk) return rc;
  GlobalOptions global = base_client.options();
  global.server = args.Get("server", global.server);
  global.tls_ca = args.Get("tls-ca", global.tls_ca);
  if (args.Has("token-file")) {
    if (!ReadFile(args.Get("token-file"), &global.token)) return kExitUsage;
    while (!global.token.empty() && std::isspace(static_cast<unsigned char>(global.token.back()))) {
      global.token.pop_back();
    }
  }
  Client client(global);
  const std::string& name = o.collection;
  const Stopwatch total;
  constexpr int kSteps = 9;

  // Local data first: a missing dataset should fail before anything changes on the server.
  auto train =
      LoadFashionMnist(o.data, DatasetSplit::kTrain,
                       o.train_examples == 0 ? -1 : static_cast<int64_t>(o.train_examples));
  auto test = LoadFashionMnist(o.data, DatasetSplit::kTest, static_cast<int64_t>(o.test_examples));
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "bottleneck: Fashion-MNIST in %s: %s\n", o.data.c_str(),
                 std::string((train.ok() ? test.status() : train.status()).message()).c_str());
    return kExitFailure;
  }
  const int64_t n_train = train->images.rows, n_test = test->images.rows;
  const int h = train->height, w = train->width;
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) {
    std::fprintf(stderr, "bottleneck: cannot create %s: %s\n", o.out.c_str(), ec.message().c_str());
    return kExitFailure;
  }
  std::printf("Bottleneck demo: Fashion-MNIST (%lld training, %lld test images) on %s\n",
              static_cast<long long>(n_train), static_cast<long long>(n_test),
              global.server.c_str());
  std::printf("plots go to %s/\n", o.out.c_str());

  // 1. The collection.
  Step(1, kSteps, "create collection '" + name + "' for 28x28 grey images");
  {
    Stopwatch watch;
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.mutable_spec()->mutable_image()->set_height(h);
    request.mutable_spec()->mutable_image()->set_width(w);
    request.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection collection;
    grpc::Status s =
        client.collections().CreateCollection(client.Context().get(), request, &collection);
    if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      std::fprintf(stderr,
                   "bottleneck: collection '%s' exists; delete it (bottleneck collections delete "
                   "%s) or pass --collection OTHER\n",
                   name.c_str(), name.c_str());
      return kExitFailure;
    }
    if (!s.ok()) return Fail("create collection", s);
    Done(watch, "created; distance L2 over float codes, HNSW index");
  }
  // Everything after this point deletes the collection on failure unless --keep.
  auto cleanup = [&](int rc) {
    if (!o.keep) {
      v1::DeleteCollectionRequest request;
      request.set_name(name);
      v1::DeleteCollectionResponse response;
      grpc::Status s =
          client.collections().DeleteCollection(client.Context().get(), request, &response);
      if (s.ok()) {
        std::printf("\ndeleted collection '%s' (pass --keep to keep it)\n", name.c_str());
      } else {
        Fail("delete collection", s);
      }
    } else {
      std::printf("\nkept collection '%s': try bottleneck search %s --item test-0\n", name.c_str(),
                  name.c_str());
    }
    std::printf("demo %s in %.1f s\n", rc == kExitOk ? "finished" : "FAILED", total.Seconds());
    (*summary->mutable_fields())["collection"].set_string_value(name);
    (*summary->mutable_fields())["kept"].set_bool_value(o.keep);
    SetNumber(summary, "seconds", total.Seconds());
    return rc;
  };

  // 2. Upload.
  Step(2, kSteps,
       "upload " + std::to_string(n_train) + " training images with labels as dataset 'train'");
  {
    Stopwatch watch;
    if (!Upload(client, name, "train", *train, n_train)) return cleanup(kExitFailure);
    Done(watch, "uploaded (client streaming, batches of 500)");
  }

  // 3. Train the paper's net.
  Step(3, kSteps,
       "train 784-1000-500-250-30 on the server: RBM pre-training " +
           std::to_string(o.pretrain_epochs) + " epochs per layer, then " +
           std::to_string(o.epochs) + " epochs of fine-tuning");
  Curves curves30;
  v1::Model model30;
  uint64_t v30 = 0;
  {
    Stopwatch watch;
    v1::ModelSpec spec;
    v1::DenseAutoencoderSpec* d = spec.mutable_dense();
    for (uint32_t size : {1000u, 500u, 250u}) d->add_encoder_sizes(size);
    d->set_code_size(30);
    if (o.pretrain_epochs > 0) {
      d->set_hidden_activation(v1::ACTIVATION_LOGISTIC);
      d->mutable_pretraining()->set_enabled(true);
      d->mutable_pretraining()->set_epochs_per_layer(static_cast<uint32_t>(o.pretrain_epochs));
    }
    spec.mutable_training()->set_epochs(static_cast<uint32_t>(o.epochs));
    spec.mutable_training()->set_seed(1);
    v30 = TrainModel(client, name, "train", spec, &curves30, &model30);
    if (v30 == 0) return cleanup(kExitFailure);
    const auto& r = model30.report();
    SetNumber(summary, "model_version", static_cast<double>(v30));
    SetNumber(summary, "validation_error", r.reconstruction_error());
    SetNumber(summary, "pca_validation_error", r.pca_reconstruction_error());
    Done(watch, "model v" + std::to_string(v30) + ": validation error " +
                    Fixed(r.reconstruction_error(), 2) + " per image vs PCA-30 " +
                    Fixed(r.pca_reconstruction_error(), 2) + " (" +
                    Fixed(r.reconstruction_error() / r.pca_reconstruction_error(), 2) + "x)");
  }

  // 4. Promote.
  Step(4, kSteps, "promote v" + std::to_string(v30) + " to serve the collection");
  {
    Stopwatch watch;
    v1::PromoteModelRequest request;
    request.set_collection(name);
    request.set_version(v30);
    v1::Promotion promotion;
    grpc::Status s = client.models().PromoteModel(client.Context().get(), request, &promotion);
    if (!s.ok()) return cleanup(Fail("promote", s));
    while (true) {
      v1::GetCollectionRequest get;
      get.set_name(name);
      v1::Collection c;
      s = client.collections().GetCollection(client.Context().get(), get, &c);
      if (!s.ok()) return cleanup(Fail("get collection", s));
      if (!c.stats().has_promotion() && c.stats().serving_model_version() == v30) break;
      if (!c.stats().has_promotion()) {
        std::fprintf(stderr, "bottleneck: the promotion ended without switching\n");
        return cleanup(kExitFailure);
      }
      usleep(100000);
    }
    Done(watch, "serving v" + std::to_string(v30));
  }

  // 5. Index the test set.
  Step(5, kSteps, "upsert " + std::to_string(n_test) + " test images with labels (ids test-N)");
  {
    Stopwatch watch;
    auto context = client.Context(0);
    v1::UpsertResponse summary;
    auto writer = client.items().StreamUpsert(context.get(), &summary);
    constexpr int64_t kBatch = 256;
    for (int64_t start = 0; start < n_test; start += kBatch) {
      v1::UpsertRequest message;
      message.set_collection(name);
      for (int64_t i = start; i < std::min(n_test, start + kBatch); ++i) {
        v1::Item* item = message.add_items();
        item->set_id("test-" + std::to_string(i));
        *item->mutable_input() = GreyRowToInput(test->images, i, h, w);
        item->set_label(kClassNames[test->labels[i]]);
      }
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (!s.ok()) return cleanup(Fail("upsert", s));
    Done(watch, std::to_string(summary.upserted()) + " items encoded with v" +
                    std::to_string(summary.serving_model_version()) + " and indexed (" +
                    Fixed(summary.upserted() / std::max(watch.Seconds(), 1e-9), 0) + " items/s)");
  }

  // 6. Example searches: the first test image of a few classes (shirts and coats are the hard
  // ones).
  Step(6, kSteps, "example searches: 8 nearest items to a few test images");
  std::vector<int64_t> queries;
  std::vector<v1::SearchResponse> query_results;
  {
    Stopwatch watch;
    for (int cls : {9, 7, 6, 4, 8}) {
      for (int64_t i = 0; i < n_test; ++i) {
        if (test->labels[i] == cls) {
          queries.push_back(i);
          break;
        }
      }
    }
    for (int64_t q : queries) {
      v1::SearchRequest request;
      request.set_collection(name);
      request.set_item_id("test-" + std::to_string(q));
      request.set_k(8);
      v1::SearchResponse response;
      grpc::Status s = client.query().Search(client.Context().get(), request, &response);
      if (!s.ok()) return cleanup(Fail("search", s));
      const std::string label = kClassNames[test->labels[q]];
      int same = 0;
      std::string names;
      for (const auto& n : response.neighbors()) {
        same += n.label() == label;
        names += (names.empty() ? "" : ", ") + n.label();
      }
      std::printf("      test-%lld (%s): %d/%d same label: %s\n", static_cast<long long>(q),
                  label.c_str(), same, response.neighbors_size(), names.c_str());
      query_results.push_back(std::move(response));
    }
    Done(watch);
  }

  // 7. Precision@10.
  Step(7, kSteps, "precision@10 (share of the 10 nearest with the query's label)");
  FloatMatrix codes30;
  std::unique_ptr<PcaModel> pca30;
  {
    Stopwatch watch;
    const auto& r = model30.report();
    std::printf(
        "      server's report (%llu validation images queried against the training "
        "codes):\n",
        static_cast<unsigned long long>(r.validation_items()));
    std::printf("        P@10 AE-30 (server report)  %.3f\n", r.precision_at_10());
    std::printf("        P@10 PCA-30 (server report) %.3f\n", r.pca_precision_at_10());
    // Through the service: each indexed test item searches the others (HNSW).
    double hits = 0;
    for (int64_t i = 0; i < n_test; ++i) {
      v1::SearchRequest request;
      request.set_collection(name);
      request.set_item_id("test-" + std::to_string(i));
      request.set_k(10);
      v1::SearchResponse response;
      grpc::Status s = client.query().Search(client.Context().get(), request, &response);
      if (!s.ok()) return cleanup(Fail("search", s));
      for (const auto& n : response.neighbors()) hits += n.label() == kClassNames[test->labels[i]];
    }
    const double service_p10 = hits / (10.0 * n_test);
    // Exact, on the client: AE-30 codes from Encode, and PCA-30 fitted here on the uploaded
    // training images; each test image queries the other test images.
    if (!EncodeRows(client, name, *test, n_test, 0, &codes30)) return cleanup(kExitFailure);
    auto fitted = FitPca(train->images, 30);
    if (!fitted.ok()) {
      std::fprintf(stderr, "bottleneck: PCA: %s\n", std::string(fitted.status().message()).c_str());
      return cleanup(kExitFailure);
    }
    pca30 = std::move(*fitted);
    auto pca_codes = EncodeAll(*pca30, test->images);
    auto ae_p = PrecisionAtKLeaveOneOut(codes30, test->labels, {10}, CodeDistance::kL2);
    auto pca_p = pca_codes.ok()
                     ? PrecisionAtKLeaveOneOut(*pca_codes, test->labels, {10}, CodeDistance::kL2)
                     : absl::StatusOr<std::vector<double>>(pca_codes.status());
    if (!ae_p.ok() || !pca_p.ok()) {
      std::fprintf(stderr, "bottleneck: precision: %s\n",
                   std::string((ae_p.ok() ? pca_p.status() : ae_p.status()).message()).c_str());
      return cleanup(kExitFailure);
    }
    std::printf("      the %lld test images, each querying the other test images:\n",
                static_cast<long long>(n_test));
    std::printf("        P@10 AE-30 via Search (the service's HNSW index)      %.3f\n",
                service_p10);
    std::printf("        P@10 AE-30 codes from Encode, exact kNN (client)      %.3f\n", (*ae_p)[0]);
    std::printf("        P@10 PCA-30 fitted on the training images, exact kNN  %.3f\n",
                (*pca_p)[0]);
    google::protobuf::Struct precision;
    SetNumber(&precision, "server_report", r.precision_at_10());
    SetNumber(&precision, "server_report_pca", r.pca_precision_at_10());
    SetNumber(&precision, "search", service_p10);
    SetNumber(&precision, "encode_exact", (*ae_p)[0]);
    SetNumber(&precision, "pca_exact", (*pca_p)[0]);
    *(*summary->mutable_fields())["precision_at_10"].mutable_struct_value() = precision;
    Done(watch);
  }

  // 8. A 2-D model for the pictures.
  const int64_t n2 = std::min<int64_t>(n_train, static_cast<int64_t>(o.examples_2d));
  Step(8, kSteps,
       "a 2-D code for pictures: train 784-512-256-2 (ReLU) on " + std::to_string(n2) +
           " training images for " + std::to_string(o.epochs_2d) + " epochs; PCA-2 here");
  Curves curves2;
  v1::Model model2;
  uint64_t v2 = 0;
  std::unique_ptr<PcaModel> pca2;
  {
    Stopwatch watch;
    std::string dataset = "train";
    if (n2 < n_train) {
      dataset = "train-2d";
      if (!Upload(client, name, dataset, *train, n2)) return cleanup(kExitFailure);
    }
    v1::ModelSpec spec;
    v1::DenseAutoencoderSpec* d = spec.mutable_dense();
    d->add_encoder_sizes(512);
    d->add_encoder_sizes(256);
    d->set_code_size(2);
    d->set_hidden_activation(v1::ACTIVATION_RELU);
    spec.mutable_training()->set_epochs(static_cast<uint32_t>(o.epochs_2d));
    spec.mutable_training()->set_seed(2);
    v2 = TrainModel(client, name, dataset, spec, &curves2, &model2);
    if (v2 == 0) return cleanup(kExitFailure);
    auto fitted = FitPca(HeadRows(train->images, n2), 2);
    if (!fitted.ok()) {
      std::fprintf(stderr, "bottleneck: PCA: %s\n", std::string(fitted.status().message()).c_str());
      return cleanup(kExitFailure);
    }
    pca2 = std::move(*fitted);
    const auto& r = model2.report();
    SetNumber(summary, "model_2d_version", static_cast<double>(v2));
    SetNumber(summary, "model_2d_validation_error", r.reconstruction_error());
    SetNumber(summary, "pca_2d_validation_error", r.pca_reconstruction_error());
    Done(watch, "model v" + std::to_string(v2) + " (not promoted): validation error " +
                    Fixed(r.reconstruction_error(), 2) + " vs PCA-2 " +
                    Fixed(r.pca_reconstruction_error(), 2) + "; P@10 " +
                    Fixed(r.precision_at_10(), 3) + " vs " + Fixed(r.pca_precision_at_10(), 3));
  }

  // 9. Plots.
  Step(9, kSteps, "plots");
  bool plots_ok = false;
  {
    Stopwatch watch;
    demo::PlotInputs in;
    in.out = o.out;
    in.collection = name;
    in.test = &*test;
    in.codes30 = &codes30;
    in.pca30 = pca30.get();
    in.pca2 = pca2.get();
    in.v2 = v2;
    in.queries = queries;
    in.query_results = &query_results;
    in.curves30 = &curves30;
    in.curves2 = &curves2;
    in.model30 = &model30;
    in.model2 = &model2;
    in.scatter_points = static_cast<int64_t>(o.scatter_points);
    size_t written = 0;
    plots_ok = demo::WritePlots(client, in, &written);
    Done(watch, std::to_string(written) + " files");
    (*summary->mutable_fields())["out"].set_string_value(o.out);
    SetNumber(summary, "files_written", static_cast<double>(written));
  }
  return cleanup(plots_ok ? kExitOk : kExitFailure);
}

int Demo(Client& client, const std::vector<std::string>& words) {
  google::protobuf::Struct summary;
  if (!JsonOutput()) return RunDemo(client, words, &summary);
  // --json: the story goes to stderr, stdout gets only the summary (or an error object).
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  const int rc = RunDemo(client, words, &summary);
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  if (rc == kExitOk) {
    PrintJson(summary);
  } else if (rc == kExitFailure) {
    google::protobuf::Struct error, body;
    (*body.mutable_fields())["what"].set_string_value("demo");
    (*body.mutable_fields())["message"].set_string_value("the demo failed (see stderr)");
    *(*error.mutable_fields())["error"].mutable_struct_value() = body;
    PrintJson(error);
  }
  return rc;
}

}  // namespace bn::cli
