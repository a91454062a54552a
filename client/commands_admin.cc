// CLI: collections, train, jobs, models.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

#include "absl/strings/str_split.h"
#include "client/cli.h"
#include "client/lib/text_files.h"

namespace bn::cli {

namespace {

std::string Fmt(double v, int precision = 4) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", precision, v);
  return buffer;
}

std::string Duration(double seconds) {
  if (seconds < 0) return "?";
  const int s = static_cast<int>(std::lround(seconds));
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return buffer;
}

// "1000,500,250" -> {1000, 500, 250}; false (with a message naming --flag) unless every part is
// a non-negative integer.
bool ParseSizes(const std::string& flag, const std::string& text, std::vector<uint32_t>* sizes) {
  sizes->clear();
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    const unsigned long value = std::strtoul(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || part[0] == '-' || value > UINT32_MAX) {
      std::fprintf(stderr, "bottleneck: --%s needs comma-separated sizes, e.g. 32,64\n",
                   flag.c_str());
      return false;
    }
    sizes->push_back(static_cast<uint32_t>(value));
  }
  return true;
}

std::string Geometry(const v1::CollectionSpec& spec) {
  if (spec.has_image()) {
    return "image " + std::to_string(spec.image().height()) + "x" +
           std::to_string(spec.image().width()) + "x" + std::to_string(spec.image().channels());
  }
  return "document V=" + std::to_string(spec.document().vocabulary_size()) +
         (spec.document().vocabulary_words().empty() ? "" : " words") +
         (spec.document().allow_raw_text() ? " text" : "");
}

void PrintCollections(const std::vector<v1::Collection>& collections) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : collections) {
    const auto& st = c.stats();
    rows.push_back(
        {c.name(), Geometry(c.spec()), v1::CodeKind_Name(c.spec().code_kind()).substr(10),
         v1::Distance_Name(c.spec().distance()).substr(9), std::to_string(st.item_count()),
         std::to_string(st.pending_item_count()),
         st.serving_model_version() ? "v" + std::to_string(st.serving_model_version()) : "-",
         std::to_string(st.index_bytes() / 1024) + " KiB",
         st.has_promotion() ? "v" + std::to_string(st.promotion().target_model_version()) + " " +
                                  std::to_string(st.promotion().items_done()) + "/" +
                                  std::to_string(st.promotion().items_total())
                            : "-"});
  }
  PrintTable(
      {"NAME", "INPUT", "CODES", "DISTANCE", "ITEMS", "PENDING", "SERVING", "INDEX", "PROMOTING"},
      rows);
}

// "classifier", or "classifier from v3" for one initialised from version 3's encoder.
std::string ClassifierKind(const v1::ClassifierSpec& c) {
  if (c.encoder_model_version() == 0) return "classifier";
  return "classifier from v" + std::to_string(c.encoder_model_version());
}

}  // namespace

int Collections(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"text", "binary"});
  if (!args.error().empty() || args.positional().empty()) {
    std::fprintf(stderr,
                 "usage: bottleneck collections list | get NAME | delete NAME |\n"
                 "       create NAME (--image HxWxC | --document V [--text] [--vocab FILE]\n"
                 "              [--encoding utf-8|latin-1|cp1252] | --vocab FILE [--text])\n"
                 "              [--binary] [--distance l2|cosine|ip|hamming] [--m M]\n"
                 "              [--ef-construction N] [--ef N] [--numeric K1,K2]\n"
                 "              [--indexed K1,K2]\n"
                 "  --text        items may be raw text (tokenised by the server)\n"
                 "  --vocab FILE  the word of each id, one per line (line i = id i-1 for 1-based\n"
                 "                ids), for the models of datasets without their own; V defaults\n"
                 "                to its number of lines\n"
                 "  --binary      binary codes (semantic hashing), searched by Hamming distance\n"
                 "  --numeric     metadata keys whose values are numbers (filters take ranges)\n"
                 "  --indexed     metadata keys to index for filters (the label always is)\n");
    return kExitUsage;
  }
  const std::string verb = args.positional()[0];
  const std::string name = args.positional().size() > 1 ? args.positional()[1] : "";
  if (verb == "list") {
    v1::ListCollectionsResponse response;
    grpc::Status s = client.collections().ListCollections(client.Context().get(), {}, &response);
    if (!s.ok()) return Fail("list collections", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      PrintCollections({response.collections().begin(), response.collections().end()});
    }
    return kExitOk;
  }
  if (name.empty()) {
    std::fprintf(stderr, "bottleneck: collections %s needs a NAME\n", verb.c_str());
    return kExitUsage;
  }
  if (verb == "get") {
    v1::GetCollectionRequest request;
    request.set_name(name);
    v1::Collection response;
    grpc::Status s = client.collections().GetCollection(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("get collection", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      PrintCollections({response});
    }
    return kExitOk;
  }
  if (verb == "delete") {
    v1::DeleteCollectionRequest request;
    request.set_name(name);
    v1::DeleteCollectionResponse response;
    grpc::Status s =
        client.collections().DeleteCollection(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete collection", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("deleted %s\n", name.c_str());
    }
    return kExitOk;
  }
  if (verb == "create") {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    v1::CollectionSpec* spec = request.mutable_spec();
    if (args.Has("image")) {
      unsigned h = 0, w = 0, c = 0;
      if (std::sscanf(args.Get("image").c_str(), "%ux%ux%u", &h, &w, &c) != 3) {
        std::fprintf(stderr, "bottleneck: --image needs HxWxC, e.g. 28x28x1\n");
        return kExitUsage;
      }
      spec->mutable_image()->set_height(h);
      spec->mutable_image()->set_width(w);
      spec->mutable_image()->set_channels(c);
    } else if (args.Has("document") || args.Has("vocab")) {
      uint64_t v = 0;
      if (!args.GetUint("document", 0, &v)) return kExitUsage;
      spec->mutable_document()->set_vocabulary_size(static_cast<uint32_t>(v));
      spec->mutable_document()->set_allow_raw_text(args.Has("text"));
      if (args.Has("vocab")) {
        TextEncoding encoding = TextEncoding::kUtf8;
        if (args.Has("encoding") && !ParseTextEncoding(args.Get("encoding"), &encoding)) {
          std::fprintf(stderr, "bottleneck: unknown --encoding %s\n", args.Get("encoding").c_str());
          return kExitUsage;
        }
        auto words = ReadVocabularyFile(args.Get("vocab"), encoding);
        if (!words.ok()) {
          std::fprintf(stderr, "bottleneck: %s\n", std::string(words.status().message()).c_str());
          return kExitUsage;
        }
        *spec->mutable_document()->mutable_vocabulary_words() = {words->begin(), words->end()};
      }
    } else {
      std::fprintf(stderr, "bottleneck: collections create needs --image or --document\n");
      return kExitUsage;
    }
    if (args.Has("binary")) {
      spec->set_code_kind(v1::CODE_KIND_BINARY);
    }
    const std::string distance = args.Get("distance");
    if (distance == "l2") spec->set_distance(v1::DISTANCE_L2);
    if (distance == "cosine") spec->set_distance(v1::DISTANCE_COSINE);
    if (distance == "ip") spec->set_distance(v1::DISTANCE_INNER_PRODUCT);
    if (distance == "hamming") spec->set_distance(v1::DISTANCE_HAMMING);
    uint64_t m, efc, ef;
    if (!args.GetUint("m", 0, &m) || !args.GetUint("ef-construction", 0, &efc) ||
        !args.GetUint("ef", 0, &ef)) {
      return kExitUsage;
    }
    spec->mutable_index()->set_m(static_cast<uint32_t>(m));
    spec->mutable_index()->set_ef_construction(static_cast<uint32_t>(efc));
    spec->mutable_index()->set_ef_search(static_cast<uint32_t>(ef));
    // Comma-separated keys; the server validates them (sizes, duplicates).
    for (const char* flag : {"numeric", "indexed"}) {
      if (!args.Has(flag)) continue;
      auto* keys = std::string(flag) == "numeric" ? spec->mutable_numeric_metadata_keys()
                                                  : spec->mutable_indexed_metadata_keys();
      for (absl::string_view key : absl::StrSplit(args.Get(flag), ',')) {
        keys->Add()->assign(key.data(), key.size());
      }
    }
    v1::Collection response;
    grpc::Status s =
        client.collections().CreateCollection(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("create collection", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      PrintCollections({response});
    }
    return kExitOk;
  }
  std::fprintf(stderr, "bottleneck: unknown verb 'collections %s'\n", verb.c_str());
  return kExitUsage;
}

std::string ProgressLine(const v1::JobProgress& p) {
  if (p.state() == v1::JOB_STATE_QUEUED || p.phase().empty()) {
    return v1::JobState_Name(p.state()).substr(10);
  }
  // The share of the phase done: epochs (RBM layers, fine-tuning) or blocks of rows (PCA, LSA).
  const double within =
      p.steps_per_epoch() > 0 ? static_cast<double>(p.step()) / p.steps_per_epoch() : 0;
  const double fraction = p.epochs() > 0 ? (p.epoch() - 1 + within) / p.epochs() : within;
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 20);
  std::string line = "[" + std::string(filled, '#') + std::string(20 - filled, '.') + "] " +
                     p.phase() + " (phase " + std::to_string(p.phase_index()) + "/" +
                     std::to_string(p.phase_count()) + ")";
  if (p.epochs() > 0) {
    line += "  epoch " + std::to_string(p.epoch()) + "/" + std::to_string(p.epochs()) + "  loss " +
            Fmt(p.loss()) + "  val " +
            (p.validation_error() >= 0 ? Fmt(p.validation_error(), p.validation_error() < 1 ? 4 : 2)
                                       : "-") +
            "  " + Fmt(p.samples_per_second(), 0) + "/s";
  } else if (p.steps_per_epoch() > 0) {
    line += "  block " + std::to_string(p.step()) + "/" + std::to_string(p.steps_per_epoch());
    if (p.samples_per_second() > 0) line += "  " + Fmt(p.samples_per_second(), 0) + " rows/s";
  }
  return line + "  elapsed " + Duration(p.elapsed_seconds()) + "  ETA " + Duration(p.eta_seconds());
}

int WatchJob(Client& client, const std::string& job_id, v1::Job* job) {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto context = client.Context(0);
  auto reader = client.training().WatchJob(context.get(), request);
  v1::JobProgress p;
  const bool tty = isatty(STDERR_FILENO);
  size_t last_width = 0;
  std::string last_phase;
  while (reader->Read(&p)) {
    if (client.options().json) PrintJson(p);
    const std::string line = ProgressLine(p);
    if (tty) {  // One line, redrawn; padded over a longer previous one.
      std::fprintf(
          stderr, "\r%s%s", line.c_str(),
          std::string(last_width > line.size() ? last_width - line.size() : 0, ' ').c_str());
      last_width = line.size();
    } else if (!client.options().json || p.phase() != last_phase) {
      std::fprintf(stderr, "%s\n", line.c_str());  // A log: each update (each phase with --json).
    }
    last_phase = p.phase();
  }
  if (tty) std::fprintf(stderr, "\n");
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail("watch job", s);
  v1::GetJobRequest get;
  get.set_job_id(job_id);
  s = client.training().GetJob(client.Context().get(), get, job);
  if (!s.ok()) return Fail("get job", s);
  return job->state() == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

// The job's final state: JSON, or "job ID STATE: model vN[ serving][: error]".
void PrintJobResult(const v1::Job& job, bool json, bool serving) {
  if (json) {
    PrintJson(job);
    return;
  }
  std::printf("job %s %s", job.id().c_str(), v1::JobState_Name(job.state()).substr(10).c_str());
  if (job.model_version() != 0) {
    std::printf(": model v%llu%s", static_cast<unsigned long long>(job.model_version()),
                serving ? " serving" : "");
  }
  if (!job.error().empty()) std::printf(": %s", job.error().c_str());
  std::printf("\n");
}

int Promote(Client& client, const std::string& collection, uint64_t version, bool wait,
            v1::Promotion* promotion, v1::Collection* out) {
  v1::PromoteModelRequest request;
  request.set_collection(collection);
  request.set_version(version);
  v1::GetCollectionRequest get;
  get.set_name(collection);
  const bool tty = isatty(STDERR_FILENO);
  while (true) {
    grpc::Status s = client.models().PromoteModel(client.Context().get(), request, promotion);
    if (s.ok()) break;
    // Another version's promotion runs: wait for it, then promote ours.
    if (s.error_code() != grpc::StatusCode::FAILED_PRECONDITION || !wait ||
        !client.collections().GetCollection(client.Context().get(), get, out).ok() ||
        !out->stats().has_promotion() ||
        out->stats().promotion().target_model_version() == version) {
      return Fail("promote model", s);
    }
    std::fprintf(stderr, "%swaiting for the promotion of v%llu to finish%s", tty ? "\r" : "",
                 static_cast<unsigned long long>(out->stats().promotion().target_model_version()),
                 tty ? "" : "\n");
    usleep(500000);
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t last_done = UINT64_MAX;
  while (true) {
    grpc::Status s = client.collections().GetCollection(client.Context().get(), get, out);
    if (!s.ok()) return Fail("get collection", s);
    if (!wait) return kExitOk;
    if (!out->stats().has_promotion()) {
      if (tty && last_done != UINT64_MAX) std::fprintf(stderr, "\n");
      if (out->stats().serving_model_version() == version) return kExitOk;
      return Fail("promote model",
                  grpc::Status(grpc::StatusCode::ABORTED,
                               "the promotion of v" + std::to_string(version) +
                                   " ended without switching (see the server log)"));
    }
    const v1::Promotion& p = out->stats().promotion();
    if (p.items_done() != last_done && p.items_total() > 0) {
      last_done = p.items_done();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rate = seconds > 0 ? static_cast<double>(p.items_done()) / seconds : 0;
      const double fraction =
          p.items_total() > 0 ? static_cast<double>(p.items_done()) / p.items_total() : 0;
      const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 20);
      const double eta =
          rate > 0 ? static_cast<double>(p.items_total() - p.items_done()) / rate : -1;
      std::fprintf(stderr, "%s[%s%s] re-encoding for v%llu: %llu/%llu items  %s/s  ETA %s   %s",
                   tty ? "\r" : "", std::string(filled, '#').c_str(),
                   std::string(20 - filled, '.').c_str(),
                   static_cast<unsigned long long>(p.target_model_version()),
                   static_cast<unsigned long long>(p.items_done()),
                   static_cast<unsigned long long>(p.items_total()), Fmt(rate, 0).c_str(),
                   Duration(eta).c_str(), tty ? "" : "\n");
    }
    usleep(200000);
  }
}

// --augment shift=2,rotate=10,scale=0.9-1.1,crop=0.2,hflip,vflip (any subset). False when
// malformed. The server checks the values against the collection's geometry.
bool ParseAugmentation(const std::string& text, v1::ImageAugmentation* out) {
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    char* end = nullptr;
    const float number = std::strtof(value.c_str(), &end);
    const bool numeric = !value.empty() && end != value.c_str() && *end == '\0';
    if (key == "hflip" && value.empty()) {
      out->set_horizontal_flip(true);
    } else if (key == "vflip" && value.empty()) {
      out->set_vertical_flip(true);
    } else if (key == "shift" && numeric) {
      out->set_max_shift_pixels(number);
    } else if (key == "rotate" && numeric) {
      out->set_max_rotation_degrees(number);
    } else if (key == "crop" && numeric) {
      out->set_crop(number);
    } else if (key == "scale" && value.find('-') != std::string::npos) {
      const size_t dash = value.find('-');
      out->set_min_scale(std::strtof(value.substr(0, dash).c_str(), nullptr));
      out->set_max_scale(std::strtof(value.substr(dash + 1).c_str(), nullptr));
    } else {
      std::fprintf(stderr, "bottleneck: cannot read --augment item '%s'\n", item.c_str());
      return false;
    }
  }
  return true;
}

const char kTrainUsage[] =
    "usage: bottleneck train COLLECTION DATASET [architecture] [options]\n"
    "architecture (none: the service's default recipe for the collection):\n"
    "  --pca K | --lsa K (documents)\n"
    "  --classifier [--from-model V [--encoder-layers N] [--freeze-encoder]] [--hidden SIZES]\n"
    "      a softmax classifier on the dataset's labels, initialised from the encoder of dense\n"
    "      auto-encoder version V (default: its hidden layers; --encoder-layers N+1 keeps the\n"
    "      code layer too), with --hidden layers after them; without --from-model the same net\n"
    "      from random weights (default layers: the default recipe's). Serve it with\n"
    "      'bottleneck classify'.\n"
    "  --dense 1000,500,250 --code 30 [--decoder SIZES] [--tied] [--pretrain]\n"
    "      [--pretrain-epochs N] [--code-activation linear|logistic] [--contractive L]\n"
    "      [--gaussian] (images: standardised pixels, linear output, Gaussian visible RBM)\n"
    "      [--neighbours K] [--neighbour-weight W] (documents: reconstruct each document mixed\n"
    "      with its K nearest training documents', weight W, default 0.7; the default recipe\n"
    "      uses 20)\n"
    "  --conv 32,64 [--kernel 3|5,3] [--stride 1|2,1] [--pool 2|2,0] [--dense 256]\n"
    "      [--unpool repeat|switches] --code 30   (convolutional; images only; --dense then\n"
    "      gives the dense layers between the feature maps and the code; kernel 3, stride 1\n"
    "      and pool 2 for every layer unless given, per layer or once)\n"
    "  both: [--activation logistic|relu|tanh]\n"
    "      [--denoise masking|gaussian|salt-and-pepper[:LEVEL]] [--code-noise S] (the\n"
    "      std-dev of the code units' noise for binary codes; the server's default is 4)\n"
    "training: [--epochs N] [--batch N] [--lr X] [--sgd] [--seed N] [--weight-decay X]\n"
    "  [--dropout F] (dense and classifier: the fraction of hidden units dropped per step)\n"
    "  [--validation F] [--validation-split random|by-label] [--patience N]\n"
    "  [--keep-last-epoch] (every epoch, the last one kept: no early stopping or best restore)\n"
    "  [--lr-schedule constant|step|cosine] [--lr-step-epochs N] [--lr-gamma X] [--lr-min X]\n"
    "  [--augment shift=PX,rotate=DEG,scale=MIN-MAX,crop=F,hflip,vflip]\n"
    "documents: [--keep-headers] [--keep-quoted] [--keep-encoded] [--keep-markup]\n"
    "  [--max-word-length N] (texts are cleaned of mail headers but the Subject, '>' quotes,\n"
    "  base64/uuencoded blocks and HTML tags, and tokens over 30 letters dropped, unless kept)\n"
    "after training: [--promote] makes the model serve the collection and waits until it does\n"
    "  (re-encoding every item, with a progress bar); [--no-wait] returns once the job is\n"
    "  queued (the server still trains and, with --promote, promotes; --no-watch is the same)\n";

// Activation flag values; false for an unknown one.
bool ParseActivation(const std::string& flag, const std::string& value, v1::Activation* out) {
  static const std::map<std::string, v1::Activation> kNames = {
      {"logistic", v1::ACTIVATION_LOGISTIC},
      {"relu", v1::ACTIVATION_RELU},
      {"tanh", v1::ACTIVATION_TANH},
      {"linear", v1::ACTIVATION_LINEAR}};
  if (value.empty()) return true;
  auto it = kNames.find(value);
  if (it == kNames.end()) {
    std::fprintf(stderr, "bottleneck: --%s is logistic, relu, tanh or linear\n", flag.c_str());
    return false;
  }
  *out = it->second;
  return true;
}

// --denoise KIND[:LEVEL] (level 0.3 by default).
bool ParseDenoise(const std::string& text, v1::Denoising* out) {
  if (text.empty()) return true;
  const size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  if (kind == "masking") {
    out->set_corruption(v1::CORRUPTION_MASKING);
  } else if (kind == "gaussian") {
    out->set_corruption(v1::CORRUPTION_GAUSSIAN);
  } else if (kind == "salt-and-pepper") {
    out->set_corruption(v1::CORRUPTION_SALT_AND_PEPPER);
  } else {
    std::fprintf(stderr, "bottleneck: --denoise is masking, gaussian or salt-and-pepper[:LEVEL]\n");
    return false;
  }
  out->set_level(colon == std::string::npos ? 0.3f
                                            : std::strtof(text.c_str() + colon + 1, nullptr));
  return true;
}

// The conv layers of --conv with --kernel, --stride and --pool (one value for every layer, or
// one per layer).
bool ParseConvLayers(const Args& args, v1::ConvAutoencoderSpec* conv) {
  std::vector<uint32_t> filters;
  if (!ParseSizes("conv", args.Get("conv"), &filters)) return false;
  const std::pair<const char*, uint32_t> kOptions[] = {{"kernel", 3}, {"stride", 1}, {"pool", 2}};
  std::vector<std::vector<uint32_t>> values;
  for (const auto& [flag, fallback] : kOptions) {
    std::vector<uint32_t> v;
    if (!ParseSizes(flag, args.Get(flag, std::to_string(fallback)), &v)) return false;
    if (v.size() == 1) v.assign(filters.size(), v[0]);
    if (v.size() != filters.size()) {
      std::fprintf(stderr, "bottleneck: --%s needs one value, or one per --conv layer (%zu)\n",
                   flag, filters.size());
      return false;
    }
    values.push_back(v);
  }
  for (size_t i = 0; i < filters.size(); ++i) {
    v1::ConvLayerSpec* layer = conv->add_encoder();
    layer->set_filters(filters[i]);
    layer->set_kernel_size(values[0][i]);
    layer->set_stride(values[1][i]);
    layer->set_pool_size(values[2][i]);
  }
  return true;
}

// The architecture of the flags into `spec` (none: the default recipe); false on a bad flag.
bool ParseArchitecture(const Args& args, v1::ModelSpec* spec) {
  uint64_t value = 0;
  for (const char* conv_only : {"kernel", "stride", "pool", "unpool"}) {
    if (args.Has(conv_only) && !args.Has("conv")) {
      std::fprintf(stderr, "bottleneck: --%s is for --conv\n", conv_only);
      return false;
    }
  }
  double noise = 0;
  if (!args.GetDouble("code-noise", 0, &noise)) return false;
  v1::Activation activation = v1::ACTIVATION_UNSPECIFIED;
  if (!ParseActivation("activation", args.Get("activation"), &activation)) return false;
  if (args.Has("pca")) {
    if (!args.GetUint("pca", 0, &value)) return false;
    spec->mutable_pca()->set_code_size(static_cast<uint32_t>(value));
  } else if (args.Has("lsa")) {
    if (!args.GetUint("lsa", 0, &value)) return false;
    spec->mutable_lsa()->set_code_size(static_cast<uint32_t>(value));
  } else if (args.Has("classifier")) {
    v1::ClassifierSpec* c = spec->mutable_classifier();
    std::vector<uint32_t> hidden;
    if (!args.GetUint("from-model", 0, &value)) return false;
    c->set_encoder_model_version(value);
    if (!args.GetUint("encoder-layers", 0, &value)) return false;
    c->set_encoder_layers(static_cast<uint32_t>(value));
    if (!ParseSizes("hidden", args.Get("hidden"), &hidden)) return false;
    *c->mutable_hidden_sizes() = {hidden.begin(), hidden.end()};
    c->set_hidden_activation(activation);
    c->set_freeze_encoder(args.Has("freeze-encoder"));
  } else if (args.Has("conv")) {
    if (args.Has("neighbours") || args.Has("neighbour-weight")) {
      std::fprintf(stderr, "bottleneck: --neighbours needs --dense (document collections)\n");
      return false;
    }
    v1::ConvAutoencoderSpec* c = spec->mutable_conv();
    std::vector<uint32_t> dense;
    if (!ParseConvLayers(args, c) || !ParseSizes("dense", args.Get("dense"), &dense) ||
        !args.GetUint("code", 30, &value) ||
        !ParseDenoise(args.Get("denoise"), c->mutable_denoising())) {
      return false;
    }
    *c->mutable_dense_sizes() = {dense.begin(), dense.end()};
    c->set_code_size(static_cast<uint32_t>(value));
    c->set_hidden_activation(activation);
    const std::string unpool = args.Get("unpool");
    if (unpool == "switches") c->set_unpooling(v1::UNPOOLING_SWITCHES);
    if (unpool == "repeat") c->set_unpooling(v1::UNPOOLING_REPEAT);
    if (!unpool.empty() && c->unpooling() == v1::UNPOOLING_UNSPECIFIED) {
      std::fprintf(stderr, "bottleneck: --unpool is repeat or switches\n");
      return false;
    }
    if (args.Has("code-noise")) c->mutable_binary()->set_noise_stddev(static_cast<float>(noise));
  } else if (args.Has("dense")) {
    v1::DenseAutoencoderSpec* d = spec->mutable_dense();
    std::vector<uint32_t> encoder, decoder;
    v1::Activation code_activation = v1::ACTIVATION_UNSPECIFIED;
    double lambda = 0;
    if (!ParseSizes("dense", args.Get("dense"), &encoder) ||
        (args.Has("decoder") && !ParseSizes("decoder", args.Get("decoder"), &decoder)) ||
        !args.GetUint("code", 30, &value) ||
        !ParseActivation("code-activation", args.Get("code-activation"), &code_activation) ||
        !ParseDenoise(args.Get("denoise"), d->mutable_denoising()) ||
        !args.GetDouble("contractive", 0, &lambda)) {
      return false;
    }
    *d->mutable_encoder_sizes() = {encoder.begin(), encoder.end()};
    *d->mutable_decoder_sizes() = {decoder.begin(), decoder.end()};
    d->set_code_size(static_cast<uint32_t>(value));
    d->set_hidden_activation(activation);
    d->set_code_activation(code_activation);
    d->set_tied_weights(args.Has("tied"));
    d->set_gaussian_visible(args.Has("gaussian"));
    if (args.Has("pretrain")) {
      d->mutable_pretraining()->set_enabled(true);
      if (!args.GetUint("pretrain-epochs", 0, &value)) return false;
      d->mutable_pretraining()->set_epochs_per_layer(static_cast<uint32_t>(value));
    }
    d->mutable_contractive()->set_lambda(static_cast<float>(lambda));
    if (args.Has("code-noise")) d->mutable_binary()->set_noise_stddev(static_cast<float>(noise));
    double neighbour_weight = 0;
    if (!args.GetUint("neighbours", 0, &value) ||
        !args.GetDouble("neighbour-weight", 0, &neighbour_weight)) {
      return false;
    }
    if (value > 0 || neighbour_weight != 0) {
      d->mutable_neighbour_targets()->set_count(static_cast<uint32_t>(value));
      d->mutable_neighbour_targets()->set_weight(static_cast<float>(neighbour_weight));
    }
  } else {
    for (const char* architecture_only :
         {"code", "code-noise", "activation", "denoise", "neighbours", "neighbour-weight"}) {
      if (args.Has(architecture_only)) {
        std::fprintf(stderr, "bottleneck: --%s needs an architecture (--dense or --conv)\n",
                     architecture_only);
        return false;
      }
    }
  }
  return true;
}

// The training options of the flags into `t`; false on a bad flag.
bool ParseTrainingOptions(const Args& args, v1::TrainingOptions* t) {
  v1::ImageAugmentation augmentation;
  double lr = 0, validation = 0, weight_decay = 0, gamma = 0, lr_min = 0, dropout = 0;
  uint64_t epochs = 0, batch = 0, seed = 0, patience = 0, step_epochs = 0;
  if (!ParseAugmentation(args.Get("augment"), &augmentation) ||
      !args.GetUint("epochs", 0, &epochs) || !args.GetUint("batch", 0, &batch) ||
      !args.GetUint("seed", 0, &seed) || !args.GetDouble("lr", 0, &lr) ||
      !args.GetDouble("validation", 0, &validation) ||
      !args.GetDouble("weight-decay", 0, &weight_decay) ||
      !args.GetDouble("dropout", 0, &dropout) || !args.GetUint("patience", 0, &patience) ||
      !args.GetUint("lr-step-epochs", 0, &step_epochs) || !args.GetDouble("lr-gamma", 0, &gamma) ||
      !args.GetDouble("lr-min", 0, &lr_min)) {
    return false;
  }
  t->set_epochs(static_cast<uint32_t>(epochs));
  t->set_batch_size(static_cast<uint32_t>(batch));
  t->set_seed(seed);
  t->set_learning_rate(static_cast<float>(lr));
  t->set_validation_fraction(static_cast<float>(validation));
  t->set_weight_decay(static_cast<float>(weight_decay));
  t->set_dropout(static_cast<float>(dropout));
  t->set_early_stopping_patience(static_cast<uint32_t>(patience));
  t->set_keep_last_epoch(args.Has("keep-last-epoch"));
  t->set_lr_step_epochs(static_cast<uint32_t>(step_epochs));
  t->set_lr_step_gamma(static_cast<float>(gamma));
  t->set_lr_min_factor(static_cast<float>(lr_min));
  *t->mutable_augmentation() = augmentation;
  if (args.Has("sgd")) t->set_optimizer(v1::OPTIMIZER_KIND_SGD);
  const std::string split = args.Get("validation-split");
  if (split == "by-label") t->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  if (split == "random") t->set_validation(v1::VALIDATION_SPLIT_RANDOM);
  if (!split.empty() && t->validation() == v1::VALIDATION_SPLIT_UNSPECIFIED) {
    std::fprintf(stderr, "bottleneck: --validation-split is random or by-label\n");
    return false;
  }
  const std::string schedule = args.Get("lr-schedule");
  if (schedule == "constant") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_CONSTANT);
  if (schedule == "step") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_STEP);
  if (schedule == "cosine") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_COSINE);
  if (!schedule.empty() && t->lr_schedule() == v1::LEARNING_RATE_SCHEDULE_UNSPECIFIED) {
    std::fprintf(stderr, "bottleneck: --lr-schedule is constant, step or cosine\n");
    return false;
  }
  return true;
}

int Train(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"pretrain", "promote", "no-watch", "no-wait", "tied", "gaussian", "sgd",
                    "keep-headers", "keep-quoted", "keep-encoded", "keep-markup", "classifier",
                    "freeze-encoder"});
  v1::StartTrainingRequest request;
  uint64_t max_word_length = 0;
  if (!args.error().empty() || args.positional().size() != 2 ||
      !ParseArchitecture(args, request.mutable_spec()) ||
      !ParseTrainingOptions(args, request.mutable_spec()->mutable_training()) ||
      !args.GetUint("max-word-length", 0, &max_word_length)) {
    std::fprintf(stderr, "%s", kTrainUsage);
    return kExitUsage;
  }
  request.set_collection(args.positional()[0]);
  request.set_dataset(args.positional()[1]);
  request.set_promote_when_done(args.Has("promote"));
  v1::ModelSpec* spec = request.mutable_spec();
  if (args.Has("keep-headers") || args.Has("keep-quoted") || args.Has("keep-encoded") ||
      args.Has("keep-markup") || max_word_length > 0) {
    v1::TextOptions* text = spec->mutable_text();
    text->set_keep_headers(args.Has("keep-headers"));
    text->set_keep_quoted_lines(args.Has("keep-quoted"));
    text->set_keep_encoded_blocks(args.Has("keep-encoded"));
    text->set_keep_markup(args.Has("keep-markup"));
    text->set_max_word_length(static_cast<uint32_t>(max_word_length));
  }
  v1::Job job;
  grpc::Status s = client.training().StartTraining(client.Context().get(), request, &job);
  if (!s.ok()) return Fail("start training", s);
  if (args.Has("no-wait") || args.Has("no-watch")) {
    if (client.options().json) {
      PrintJson(job);
    } else {
      std::printf("job %s queued%s\n", job.id().c_str(),
                  args.Has("promote") ? " (promoted when it succeeds)" : "");
    }
    return kExitOk;
  }
  std::fprintf(stderr, "job %s queued\n", job.id().c_str());
  int rc = WatchJob(client, job.id(), &job);
  if (rc == kExitOk && args.Has("promote")) {
    // The server promotes the model when the job succeeds; Promote joins that promotion (or
    // starts it, if the job's own has not begun yet) and waits for the switch, so that the next
    // search uses the new model.
    v1::Promotion promotion;
    v1::Collection collection;
    rc = Promote(client, job.collection(), job.model_version(), true, &promotion, &collection);
  }
  PrintJobResult(job, client.options().json, args.Has("promote") && rc == kExitOk);
  return rc;
}

int Jobs(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.empty()) {
    std::fprintf(stderr,
                 "usage: bottleneck jobs list [COLLECTION] | get|watch|cancel|resume JOB_ID\n");
    return kExitUsage;
  }
  if (pos[0] == "list") {
    v1::ListJobsRequest request;
    if (pos.size() > 1) request.set_collection(pos[1]);
    v1::ListJobsResponse response;
    grpc::Status s = client.training().ListJobs(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("list jobs", s);
    if (client.options().json) {
      PrintJson(response);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& job : response.jobs()) {
      const auto& p = job.progress();
      rows.push_back({job.id(), job.dataset(), v1::JobState_Name(job.state()).substr(10), p.phase(),
                      std::to_string(p.epoch()) + "/" + std::to_string(p.epochs()),
                      job.model_version() ? "v" + std::to_string(job.model_version()) : "-",
                      job.error()});
    }
    PrintTable({"JOB", "DATASET", "STATE", "PHASE", "EPOCH", "MODEL", "ERROR"}, rows);
    return kExitOk;
  }
  if (pos.size() < 2) {
    std::fprintf(stderr, "bottleneck: jobs %s needs a JOB_ID\n", pos[0].c_str());
    return kExitUsage;
  }
  const std::string& id = pos[1];
  v1::Job job;
  if (pos[0] == "watch") {
    const int rc = WatchJob(client, id, &job);
    if (!job.id().empty()) PrintJobResult(job, client.options().json, false);
    return rc;
  }
  grpc::Status s;
  if (pos[0] == "get") {
    v1::GetJobRequest r;
    r.set_job_id(id);
    s = client.training().GetJob(client.Context().get(), r, &job);
  } else if (pos[0] == "cancel") {
    v1::CancelJobRequest r;
    r.set_job_id(id);
    s = client.training().CancelJob(client.Context().get(), r, &job);
  } else if (pos[0] == "resume") {
    v1::ResumeJobRequest r;
    r.set_job_id(id);
    s = client.training().ResumeJob(client.Context().get(), r, &job);
  } else {
    std::fprintf(stderr, "bottleneck: unknown verb 'jobs %s'\n", pos[0].c_str());
    return kExitUsage;
  }
  if (!s.ok()) return Fail("jobs " + pos[0], s);
  if (client.options().json) {
    PrintJson(job);
  } else {
    std::printf("%s\n", job.DebugString().c_str());
  }
  return kExitOk;
}

int Models(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"wait", "no-wait"});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: bottleneck models list COLLECTION | get COLLECTION VERSION |\n"
                 "       promote COLLECTION VERSION [--no-wait]\n"
                 "  promote waits until the version serves (every item re-encoded, with a\n"
                 "  progress bar; if another version is being promoted, after it); --no-wait\n"
                 "  returns at once (searches use the previous version until the switch)\n");
    return kExitUsage;
  }
  if (pos[0] == "list") {
    v1::ListModelsRequest request;
    request.set_collection(pos[1]);
    v1::ListModelsResponse response;
    grpc::Status s = client.models().ListModels(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("list models", s);
    if (client.options().json) {
      PrintJson(response);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : response.models()) {
      const auto& r = m.report();
      const bool classifier = m.spec().has_classifier();
      const std::string kind = m.spec().has_pca()     ? "PCA"
                               : m.spec().has_lsa()   ? "LSA"
                               : m.spec().has_dense() ? "dense AE"
                               : classifier           ? ClassifierKind(m.spec().classifier())
                                                      : "conv AE";
      // With a BY_LABEL split, the error on the held-out labels (classes never trained on).
      const bool heldout = r.heldout_items() > 0;
      rows.push_back({"v" + std::to_string(m.version()) + (m.serving() ? " *" : ""), kind,
                      std::to_string(m.code_size()), std::to_string(m.parameter_count()),
                      // A classifier's error is its misclassified fraction of the validation set.
                      classifier ? Fmt(100 * r.classification_error(), 2) + " %"
                                 : Fmt(r.reconstruction_error(), 2),
                      classifier ? "-" : Fmt(r.pca_reconstruction_error(), 2),
                      heldout ? Fmt(r.heldout_reconstruction_error(), 2) : "-",
                      heldout ? Fmt(r.heldout_pca_reconstruction_error(), 2) : "-",
                      Fmt(r.precision_at_10(), 3), Fmt(r.pca_precision_at_10(), 3),
                      r.best_epoch() > 0
                          ? std::to_string(r.best_epoch()) + "/" + std::to_string(r.epochs_run())
                          : "-",
                      Duration(r.training_seconds())});
    }
    PrintTable({"VERSION", "KIND", "CODE", "PARAMS", "ERROR", "PCA ERROR", "NEW-LABEL ERROR", "PCA",
                "P@10", "PCA P@10", "BEST EPOCH", "TRAINED IN"},
               rows);
    return kExitOk;
  }
  if (pos.size() < 3) {
    std::fprintf(stderr, "bottleneck: models %s needs COLLECTION VERSION\n", pos[0].c_str());
    return kExitUsage;
  }
  const uint64_t version = std::strtoull(pos[2].c_str(), nullptr, 10);
  if (pos[0] == "get") {
    v1::GetModelRequest request;
    request.set_collection(pos[1]);
    request.set_version(version);
    v1::Model model;
    grpc::Status s = client.models().GetModel(client.Context().get(), request, &model);
    if (!s.ok()) return Fail("get model", s);
    if (client.options().json) {
      PrintJson(model);
    } else {
      std::printf("%s\n", model.DebugString().c_str());
    }
    return kExitOk;
  }
  if (pos[0] == "promote") {
    const bool wait = !args.Has("no-wait");
    v1::Promotion promotion;
    v1::Collection collection;
    const int rc = Promote(client, pos[1], version, wait, &promotion, &collection);
    if (rc != kExitOk) return rc;
    if (client.options().json) {
      if (wait) {
        PrintJson(collection);
      } else {
        PrintJson(promotion);
      }
    } else if (wait) {
      std::printf("%s: serving v%llu\n", pos[1].c_str(), static_cast<unsigned long long>(version));
    } else {
      std::printf("promoting v%llu: re-encoding %llu items in the background\n",
                  static_cast<unsigned long long>(version),
                  static_cast<unsigned long long>(promotion.items_total()));
    }
    return kExitOk;
  }
  std::fprintf(stderr, "bottleneck: unknown verb 'models %s'\n", pos[0].c_str());
  return kExitUsage;
}

}  // namespace bn::cli
