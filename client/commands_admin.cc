// CLI: collections, train, jobs, models.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

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

std::vector<uint32_t> ParseSizes(const std::string& text) {
  std::vector<uint32_t> sizes;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty())
      sizes.push_back(static_cast<uint32_t>(std::strtoul(part.c_str(), nullptr, 10)));
  }
  return sizes;
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

void PrintCollections(const std::vector<v1::Collection>& collections, bool json) {
  if (json) {
    for (const auto& c : collections) PrintJson(c);
    return;
  }
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
  Args args(words, {"text"});
  if (!args.error().empty() || args.positional().empty()) {
    std::fprintf(stderr,
                 "usage: bottleneck collections list | get NAME | delete NAME |\n"
                 "       create NAME (--image HxWxC | --document V [--text] [--vocab FILE]\n"
                 "              [--encoding utf-8|latin-1|cp1252] | --vocab FILE [--text])\n"
                 "              [--binary] [--distance l2|cosine|ip|hamming] [--m M]\n"
                 "              [--ef-construction N] [--ef N]\n"
                 "  --text        items may be raw text (tokenised by the server)\n"
                 "  --vocab FILE  the word of each id, one per line (line i = id i-1 for 1-based\n"
                 "                ids), for the models of datasets without their own; V defaults\n"
                 "                to its number of lines\n"
                 "  --binary      binary codes (semantic hashing), searched by Hamming distance\n");
    return kExitUsage;
  }
  const std::string verb = args.positional()[0];
  const std::string name = args.positional().size() > 1 ? args.positional()[1] : "";
  if (verb == "list") {
    v1::ListCollectionsResponse response;
    grpc::Status s = client.collections().ListCollections(client.Context().get(), {}, &response);
    if (!s.ok()) return Fail("list collections", s);
    PrintCollections({response.collections().begin(), response.collections().end()},
                     client.options().json);
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
    PrintCollections({response}, client.options().json);
    return kExitOk;
  }
  if (verb == "delete") {
    v1::DeleteCollectionRequest request;
    request.set_name(name);
    v1::DeleteCollectionResponse response;
    grpc::Status s =
        client.collections().DeleteCollection(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete collection", s);
    std::printf("deleted %s\n", name.c_str());
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
    if (args.Get("binary") == "true" || args.Has("binary")) {
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
    v1::Collection response;
    grpc::Status s =
        client.collections().CreateCollection(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("create collection", s);
    PrintCollections({response}, client.options().json);
    return kExitOk;
  }
  std::fprintf(stderr, "bottleneck: unknown verb 'collections %s'\n", verb.c_str());
  return kExitUsage;
}

int WatchJob(Client& client, const std::string& job_id) {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto context = client.Context(0);
  auto reader = client.training().WatchJob(context.get(), request);
  v1::JobProgress p;
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  const bool tty = isatty(STDERR_FILENO);
  while (reader->Read(&p)) {
    last = p.state();
    if (client.options().json) {
      PrintJson(p);
      continue;
    }
    const double fraction =
        p.epochs() > 0
            ? (p.epoch() - 1 +
               (p.steps_per_epoch() > 0 ? static_cast<double>(p.step()) / p.steps_per_epoch()
                                        : 0)) /
                  p.epochs()
            : 0;
    const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 20);
    std::fprintf(stderr, "%s[%s%s] %s %u/%u  epoch %u/%u  loss %s  val %s  %s/s  ETA %s   %s",
                 tty ? "\r" : "", std::string(filled, '#').c_str(),
                 std::string(20 - filled, '.').c_str(), p.phase().c_str(), p.phase_index(),
                 p.phase_count(), p.epoch(), p.epochs(), Fmt(p.loss()).c_str(),
                 p.validation_error() >= 0
                     ? Fmt(p.validation_error(), p.validation_error() < 1 ? 4 : 2).c_str()
                     : "-",
                 Fmt(p.samples_per_second(), 0).c_str(), Duration(p.eta_seconds()).c_str(),
                 tty ? "" : "\n");
  }
  if (tty && !client.options().json) std::fprintf(stderr, "\n");
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail("watch job", s);
  v1::GetJobRequest get;
  get.set_job_id(job_id);
  v1::Job job;
  s = client.training().GetJob(client.Context().get(), get, &job);
  if (!s.ok()) return Fail("get job", s);
  if (client.options().json) {
    PrintJson(job);
  } else {
    std::printf("job %s %s", job.id().c_str(), v1::JobState_Name(job.state()).substr(10).c_str());
    if (job.model_version() != 0) {
      const auto& r = job.progress();
      (void)r;
      std::printf(": model v%llu", static_cast<unsigned long long>(job.model_version()));
    }
    if (!job.error().empty()) std::printf(": %s", job.error().c_str());
    std::printf("\n");
  }
  return last == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitFailure;
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

int Train(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"pretrain", "promote", "no-watch", "tied", "sgd", "keep-headers", "keep-quoted",
                    "keep-encoded", "keep-markup", "classifier", "freeze-encoder"});
  v1::ImageAugmentation augmentation;
  if (!args.error().empty() || args.positional().size() != 2 ||
      !ParseAugmentation(args.Get("augment"), &augmentation)) {
    std::fprintf(
        stderr,
        "usage: bottleneck train COLLECTION DATASET [--pca K | --lsa K (documents) |\n"
        "         --dense 1000,500,250 --code 30 |\n"
        "         --classifier [--from-model V [--encoder-layers N] [--freeze-encoder]]\n"
        "         [--hidden SIZES]]\n"
        "         (no architecture: the service's default recipe for the collection)\n"
        "         --classifier: a softmax classifier on the dataset's labels, initialised from\n"
        "         the encoder of dense auto-encoder version V (default: its hidden layers;\n"
        "         --encoder-layers N+1 keeps the code layer too), with --hidden layers after\n"
        "         them; without --from-model the same net from random weights (default\n"
        "         layers: the default recipe's). Serve it with 'bottleneck classify'.\n"
        "         [--activation logistic|relu|tanh] [--code-activation linear|logistic]\n"
        "         [--decoder SIZES] [--tied] [--pretrain] [--pretrain-epochs N]\n"
        "         [--denoise masking|gaussian|salt-and-pepper:LEVEL] [--contractive L]\n"
        "         [--epochs N] [--batch N] [--lr X] [--sgd] [--seed N] [--weight-decay X]\n"
        "         [--validation F] [--validation-split random|by-label] [--patience N]\n"
        "         [--lr-schedule constant|step|cosine] [--lr-step-epochs N]\n"
        "         [--lr-gamma X] [--lr-min X]\n"
        "         [--augment shift=PX,rotate=DEG,scale=MIN-MAX,crop=F,hflip,vflip]\n"
        "         [--promote] [--no-watch]\n"
        "         documents: [--keep-headers] [--keep-quoted] [--keep-encoded]\n"
        "         [--keep-markup] [--max-word-length N] (texts are cleaned of mail\n"
        "         headers but the Subject, '>' quotes, base64/uuencoded blocks and\n"
        "         HTML tags, and tokens over 30 letters dropped, unless kept)\n");
    return kExitUsage;
  }
  v1::StartTrainingRequest request;
  request.set_collection(args.positional()[0]);
  request.set_dataset(args.positional()[1]);
  request.set_promote_when_done(args.Has("promote"));
  v1::ModelSpec* spec = request.mutable_spec();
  uint64_t value = 0;
  if (args.Has("pca")) {
    if (!args.GetUint("pca", 0, &value)) return kExitUsage;
    spec->mutable_pca()->set_code_size(static_cast<uint32_t>(value));
  } else if (args.Has("lsa")) {
    if (!args.GetUint("lsa", 0, &value)) return kExitUsage;
    spec->mutable_lsa()->set_code_size(static_cast<uint32_t>(value));
  } else if (args.Has("classifier")) {
    v1::ClassifierSpec* c = spec->mutable_classifier();
    if (!args.GetUint("from-model", 0, &value)) return kExitUsage;
    c->set_encoder_model_version(value);
    if (!args.GetUint("encoder-layers", 0, &value)) return kExitUsage;
    c->set_encoder_layers(static_cast<uint32_t>(value));
    for (uint32_t size : ParseSizes(args.Get("hidden"))) c->add_hidden_sizes(size);
    const std::string act = args.Get("activation");
    if (act == "relu") c->set_hidden_activation(v1::ACTIVATION_RELU);
    if (act == "tanh") c->set_hidden_activation(v1::ACTIVATION_TANH);
    if (act == "logistic") c->set_hidden_activation(v1::ACTIVATION_LOGISTIC);
    c->set_freeze_encoder(args.Has("freeze-encoder"));
  } else if (args.Has("dense")) {
    v1::DenseAutoencoderSpec* d = spec->mutable_dense();
    for (uint32_t size : ParseSizes(args.Get("dense"))) d->add_encoder_sizes(size);
    for (uint32_t size : ParseSizes(args.Get("decoder"))) d->add_decoder_sizes(size);
    if (!args.GetUint("code", 30, &value)) return kExitUsage;
    d->set_code_size(static_cast<uint32_t>(value));
    const std::string act = args.Get("activation");
    if (act == "relu") d->set_hidden_activation(v1::ACTIVATION_RELU);
    if (act == "tanh") d->set_hidden_activation(v1::ACTIVATION_TANH);
    if (act == "logistic") d->set_hidden_activation(v1::ACTIVATION_LOGISTIC);
    const std::string code_act = args.Get("code-activation");
    if (code_act == "linear") d->set_code_activation(v1::ACTIVATION_LINEAR);
    if (code_act == "logistic") d->set_code_activation(v1::ACTIVATION_LOGISTIC);
    d->set_tied_weights(args.Has("tied"));
    if (args.Has("pretrain")) {
      d->mutable_pretraining()->set_enabled(true);
      if (!args.GetUint("pretrain-epochs", 0, &value)) return kExitUsage;
      d->mutable_pretraining()->set_epochs_per_layer(static_cast<uint32_t>(value));
    }
    if (args.Has("denoise")) {
      const std::string denoise = args.Get("denoise");
      const size_t colon = denoise.find(':');
      const std::string kind = denoise.substr(0, colon);
      if (kind == "masking") d->mutable_denoising()->set_corruption(v1::CORRUPTION_MASKING);
      if (kind == "gaussian") d->mutable_denoising()->set_corruption(v1::CORRUPTION_GAUSSIAN);
      if (kind == "salt-and-pepper") {
        d->mutable_denoising()->set_corruption(v1::CORRUPTION_SALT_AND_PEPPER);
      }
      d->mutable_denoising()->set_level(
          colon == std::string::npos ? 0.3f : std::strtof(denoise.c_str() + colon + 1, nullptr));
    }
    double lambda = 0;
    if (!args.GetDouble("contractive", 0, &lambda)) return kExitUsage;
    d->mutable_contractive()->set_lambda(static_cast<float>(lambda));
  }
  v1::TrainingOptions* t = spec->mutable_training();
  double lr = 0, validation = 0, weight_decay = 0, gamma = 0, lr_min = 0;
  uint64_t epochs = 0, batch = 0, seed = 0, patience = 0, step_epochs = 0;
  if (!args.GetUint("epochs", 0, &epochs) || !args.GetUint("batch", 0, &batch) ||
      !args.GetUint("seed", 0, &seed) || !args.GetDouble("lr", 0, &lr) ||
      !args.GetDouble("validation", 0, &validation) ||
      !args.GetDouble("weight-decay", 0, &weight_decay) ||
      !args.GetUint("patience", 0, &patience) || !args.GetUint("lr-step-epochs", 0, &step_epochs) ||
      !args.GetDouble("lr-gamma", 0, &gamma) || !args.GetDouble("lr-min", 0, &lr_min)) {
    return kExitUsage;
  }
  t->set_epochs(static_cast<uint32_t>(epochs));
  t->set_batch_size(static_cast<uint32_t>(batch));
  t->set_seed(seed);
  t->set_learning_rate(static_cast<float>(lr));
  t->set_validation_fraction(static_cast<float>(validation));
  t->set_weight_decay(static_cast<float>(weight_decay));
  t->set_early_stopping_patience(static_cast<uint32_t>(patience));
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
    return kExitUsage;
  }
  const std::string schedule = args.Get("lr-schedule");
  if (schedule == "constant") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_CONSTANT);
  if (schedule == "step") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_STEP);
  if (schedule == "cosine") t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_COSINE);
  if (!schedule.empty() && t->lr_schedule() == v1::LEARNING_RATE_SCHEDULE_UNSPECIFIED) {
    std::fprintf(stderr, "bottleneck: --lr-schedule is constant, step or cosine\n");
    return kExitUsage;
  }
  uint64_t max_word_length = 0;
  if (!args.GetUint("max-word-length", 0, &max_word_length)) return kExitUsage;
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
  if (client.options().json && args.Has("no-watch")) PrintJson(job);
  if (!client.options().json) std::printf("job %s queued\n", job.id().c_str());
  if (args.Has("no-watch")) return kExitOk;
  return WatchJob(client, job.id());
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
      for (const auto& job : response.jobs()) PrintJson(job);
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
  if (pos[0] == "watch") return WatchJob(client, id);
  v1::Job job;
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
  Args args(words, {"wait"});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: bottleneck models list COLLECTION | get COLLECTION VERSION |\n"
                 "       promote COLLECTION VERSION [--wait]\n");
    return kExitUsage;
  }
  if (pos[0] == "list") {
    v1::ListModelsRequest request;
    request.set_collection(pos[1]);
    v1::ListModelsResponse response;
    grpc::Status s = client.models().ListModels(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("list models", s);
    if (client.options().json) {
      for (const auto& m : response.models()) PrintJson(m);
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
      // A classifier's error is its misclassified fraction of the validation examples.
      rows.push_back({"v" + std::to_string(m.version()) + (m.serving() ? " *" : ""), kind,
                      std::to_string(m.code_size()), std::to_string(m.parameter_count()),
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
    v1::PromoteModelRequest request;
    request.set_collection(pos[1]);
    request.set_version(version);
    v1::Promotion promotion;
    grpc::Status s = client.models().PromoteModel(client.Context().get(), request, &promotion);
    if (!s.ok()) return Fail("promote model", s);
    if (!args.Has("wait")) {
      std::printf("promoting v%llu: re-encoding %llu items in the background\n",
                  static_cast<unsigned long long>(version),
                  static_cast<unsigned long long>(promotion.items_total()));
      return kExitOk;
    }
    while (true) {
      v1::GetCollectionRequest get;
      get.set_name(pos[1]);
      v1::Collection c;
      s = client.collections().GetCollection(client.Context().get(), get, &c);
      if (!s.ok()) return Fail("get collection", s);
      if (!c.stats().has_promotion()) {
        if (c.stats().serving_model_version() == version) {
          std::fprintf(stderr, "\rserving v%llu                          \n",
                       static_cast<unsigned long long>(version));
          return kExitOk;
        }
        std::fprintf(stderr, "\npromotion ended without switching (see the server log)\n");
        return kExitFailure;
      }
      std::fprintf(stderr, "\rre-encoding %llu/%llu",
                   static_cast<unsigned long long>(c.stats().promotion().items_done()),
                   static_cast<unsigned long long>(c.stats().promotion().items_total()));
      usleep(200000);
    }
  }
  std::fprintf(stderr, "bottleneck: unknown verb 'models %s'\n", pos[0].c_str());
  return kExitUsage;
}

}  // namespace bn::cli
