// CLI: datasets, items, search, encode, decode.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "client/cli.h"
#include "client/lib/filter_expr.h"
#include "client/lib/raw_input.h"
#include "client/lib/text_files.h"
#include "engine/data/idx.h"

namespace bn::cli {

namespace {

// A source of examples: IDX images (+ labels), a folder with label subfolders (of images, or of
// text files for a document collection), a text file with one "label<TAB>text" document per
// line, or a bag-of-words file of "doc word count" triplets (+ a labels file).
struct Source {
  std::vector<v1::Input> inputs;
  std::vector<std::string> labels;    // Empty strings for unlabelled.
  std::vector<std::string> origins;   // Where each input came from ("FILE line 12"), for messages.
  std::vector<std::string> left_out;  // Inputs the client itself left out (--skip-invalid).
};

struct SourceOptions {
  bool documents = false;     // A folder holds text files (a document collection).
  bool skip_invalid = false;  // Undecodable text goes to the server, which skips it.
  TextEncoding encoding = TextEncoding::kUtf8;
};

// The encoding of --encoding (default UTF-8); false (with a message) for an unknown one.
bool EncodingFlag(const Args& args, TextEncoding* encoding) {
  if (!args.Has("encoding")) return true;
  if (ParseTextEncoding(args.Get("encoding"), encoding)) return true;
  std::fprintf(stderr,
               "bottleneck: unknown --encoding %s (utf-8, latin-1 / iso-8859-1, cp1252 / "
               "windows-1252)\n",
               args.Get("encoding").c_str());
  return false;
}

// Adds one text document. Text that does not decode is refused, or with skip_invalid sent as is
// for the server to skip and report (its label must be UTF-8 to be sent at all).
bool AddText(const std::string& bytes, const std::string& label, const std::string& origin,
             const SourceOptions& options, Source* source) {
  auto text = ToUtf8(bytes, options.encoding);
  auto label_utf8 = ToUtf8(label, options.encoding);
  if (!text.ok() || !label_utf8.ok()) {
    const std::string why = std::string((text.ok() ? label_utf8 : text).status().message());
    if (!options.skip_invalid) {
      std::fprintf(stderr,
                   "bottleneck: %s: %s; give --encoding latin-1 or cp1252 if the file is not "
                   "UTF-8, or --skip-invalid to leave such documents out\n",
                   origin.c_str(), why.c_str());
      return false;
    }
    if (!label_utf8.ok()) {
      source->left_out.push_back(origin + ": label " + why);
      return true;
    }
  }
  v1::Input input;
  input.mutable_document()->set_text(text.ok() ? *text : bytes);
  source->inputs.push_back(std::move(input));
  source->labels.push_back(*label_utf8);
  source->origins.push_back(origin);
  return true;
}

bool IsImageFile(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool LoadFolder(const Args& args, const SourceOptions& options, int64_t max_items, Source* source) {
  const std::filesystem::path root(args.Get("folder"));
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (options.documents || IsImageFile(entry.path())) files.push_back(entry.path());
  }
  if (ec) {
    std::fprintf(stderr, "bottleneck: cannot read folder: %s\n", ec.message().c_str());
    return false;
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    if (max_items > 0 && static_cast<int64_t>(source->inputs.size()) >= max_items) break;
    std::string bytes;
    if (!ReadFile(path.string(), &bytes)) return false;
    const std::string label =
        path.parent_path() == root ? "" : path.parent_path().filename().string();
    if (options.documents) {
      if (!AddText(bytes, label, path.string(), options, source)) return false;
      continue;
    }
    v1::Input input;
    input.mutable_image()->set_encoded(std::move(bytes));
    source->inputs.push_back(std::move(input));
    source->labels.push_back(label);
    source->origins.push_back(path.string());
  }
  return true;
}

bool LoadTextFile(const Args& args, const SourceOptions& options, int64_t max_items,
                  Source* source) {
  const std::string path = args.Get("text");
  std::string bytes;
  if (!ReadFile(path, &bytes)) return false;
  size_t start = 0;
  for (int64_t number = 1; start < bytes.size(); ++number) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    std::string line = bytes.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // Blank: no document.
    const size_t tab = line.find('\t');
    const std::string label = tab == std::string::npos ? "" : line.substr(0, tab);
    const std::string text = tab == std::string::npos ? line : line.substr(tab + 1);
    if (!AddText(text, label, path + " line " + std::to_string(number), options, source)) {
      return false;
    }
    if (max_items > 0 && static_cast<int64_t>(source->inputs.size()) >= max_items) break;
  }
  return true;
}

bool LoadBow(const Args& args, const SourceOptions& options, int64_t max_items, Source* source) {
  uint64_t base = 1;
  if (!args.GetUint("bow-base", 1, &base)) return false;
  auto documents = ReadBowFile(args.Get("bow"), static_cast<int>(base), max_items);
  if (!documents.ok()) {
    std::fprintf(stderr, "bottleneck: %s\n", std::string(documents.status().message()).c_str());
    return false;
  }
  std::vector<std::string> labels;
  if (args.Has("bow-labels")) {
    auto read = ReadLabelFile(args.Get("bow-labels"), options.encoding);
    if (!read.ok()) {
      std::fprintf(stderr, "bottleneck: %s\n", std::string(read.status().message()).c_str());
      return false;
    }
    labels = std::move(*read);
  }
  for (const BowDocument& d : *documents) {
    if (!labels.empty() && d.index >= static_cast<int64_t>(labels.size())) {
      std::fprintf(stderr, "bottleneck: %s has %zu lines; document %lld has no label\n",
                   args.Get("bow-labels").c_str(), labels.size(),
                   static_cast<long long>(d.index + static_cast<int64_t>(base)));
      return false;
    }
    v1::Input input;
    v1::SparseCounts* ids = input.mutable_document()->mutable_word_ids();
    *ids->mutable_ids() = {d.ids.begin(), d.ids.end()};
    *ids->mutable_counts() = {d.counts.begin(), d.counts.end()};
    source->inputs.push_back(std::move(input));
    source->labels.push_back(labels.empty() ? "" : labels[d.index]);
    source->origins.push_back(args.Get("bow") + " document " +
                              std::to_string(d.index + static_cast<int64_t>(base)));
  }
  return true;
}

bool LoadSource(const Args& args, const SourceOptions& options, Source* source) {
  uint64_t limit = 0;
  if (!args.GetUint("limit", 0, &limit)) return false;
  const int64_t max_items = limit == 0 ? -1 : static_cast<int64_t>(limit);
  if (args.Has("images")) {
    auto images = ReadIdxImages(args.Get("images"), max_items);
    if (!images.ok()) {
      std::fprintf(stderr, "bottleneck: %s\n", std::string(images.status().message()).c_str());
      return false;
    }
    std::vector<int> labels;
    if (args.Has("labels")) {
      auto read = ReadIdxLabels(args.Get("labels"), max_items);
      if (!read.ok()) {
        std::fprintf(stderr, "bottleneck: %s\n", std::string(read.status().message()).c_str());
        return false;
      }
      labels = std::move(*read);
    }
    for (int64_t i = 0; i < images->images.rows; ++i) {
      source->inputs.push_back(GreyRowToInput(images->images, i, images->height, images->width));
      source->labels.push_back(i < static_cast<int64_t>(labels.size()) ? std::to_string(labels[i])
                                                                       : "");
      source->origins.push_back(args.Get("images") + " image " + std::to_string(i));
    }
    return true;
  }
  if (args.Has("folder")) return LoadFolder(args, options, max_items, source);
  if (args.Has("text")) return LoadTextFile(args, options, max_items, source);
  if (args.Has("bow")) return LoadBow(args, options, max_items, source);
  std::fprintf(stderr,
               "bottleneck: give --images FILE [--labels FILE], --folder DIR, --text FILE or "
               "--bow FILE [--bow-labels FILE]\n");
  return false;
}

// Whether `collection` holds documents (a --folder then holds text files).
bool IsDocumentCollection(Client& client, const std::string& collection, bool* documents) {
  v1::GetCollectionRequest request;
  request.set_name(collection);
  v1::Collection response;
  grpc::Status s = client.collections().GetCollection(client.Context().get(), request, &response);
  if (!s.ok()) {
    Fail("get collection", s);
    return false;
  }
  *documents = response.spec().has_document();
  return true;
}

// A server error about "examples[i]: ..." with where input i came from appended.
grpc::Status WithOrigin(const grpc::Status& status, const Source& source) {
  const std::string& message = status.error_message();
  if (message.rfind("examples[", 0) != 0) return status;
  const size_t index = std::strtoull(message.c_str() + 9, nullptr, 10);
  if (index >= source.origins.size()) return status;
  return grpc::Status(status.error_code(), message + " (" + source.origins[index] + ")");
}

void Progress(const char* what, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO) && done != total) return;
  const int filled = total == 0 ? 20 : static_cast<int>(20.0 * done / total);
  std::fprintf(stderr, "\r%s [%s%s] %zu/%zu", what, std::string(filled, '#').c_str(),
               std::string(20 - filled, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

}  // namespace

std::string CodeString(const v1::Code& code) {
  std::string out;
  if (code.has_float_code()) {
    for (float v : code.float_code().values()) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%s%.6g", out.empty() ? "" : ",", v);
      out += buffer;
    }
    return out;
  }
  for (uint32_t i = 0; i < code.binary_code().num_bits(); ++i) {
    out +=
        ((static_cast<unsigned char>(code.binary_code().bits()[i / 8]) >> (i % 8)) & 1) ? '1' : '0';
  }
  return out;
}

int Datasets(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"skip-invalid"});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(
        stderr,
        "usage: bottleneck datasets upload COLLECTION NAME (--images IDX [--labels IDX] |\n"
        "         --folder DIR | --text FILE | --bow FILE [--bow-labels FILE] [--bow-base 1|0])\n"
        "         [--vocab FILE] [--encoding utf-8|latin-1|cp1252] [--skip-invalid] [--limit N]\n"
        "         [--batch N]\n"
        "       bottleneck datasets list COLLECTION | delete COLLECTION NAME\n"
        "\n"
        "  --folder DIR      label subfolders of images, or of text files (one document each) for\n"
        "                    a document collection\n"
        "  --text FILE       one document per line: LABEL<TAB>TEXT (or just TEXT); blank lines\n"
        "                    are skipped\n"
        "  --bow FILE        word-id documents as \"doc word count\" lines (UCI bag-of-words,\n"
        "                    20 Newsgroups train.data); ids are 1-based unless --bow-base 0;\n"
        "                    a leading header of shorter lines is skipped\n"
        "  --bow-labels FILE line i is the label of document i (e.g. train.label)\n"
        "  --vocab FILE      the word of each id, one per line (line i = id i-1 for 1-based ids):\n"
        "                    the vocabulary of the models trained on this dataset\n"
        "  --encoding E      of --text, --folder, --vocab and --bow-labels files (default utf-8);\n"
        "                    transcoded to UTF-8 here\n"
        "  --skip-invalid    leave out examples that fail validation (undecodable text, empty\n"
        "                    documents, ids outside the vocabulary) and report them, instead of\n"
        "                    failing the whole upload\n");
    return kExitUsage;
  }
  if (pos[0] == "list") {
    v1::ListDatasetsRequest request;
    request.set_collection(pos[1]);
    v1::ListDatasetsResponse response;
    grpc::Status s = client.training().ListDatasets(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("list datasets", s);
    if (client.options().json) {
      PrintJson(response);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : response.datasets()) {
      rows.push_back(
          {d.name(), std::to_string(d.example_count()), std::to_string(d.labelled_count()),
           std::to_string(d.skipped_count()),
           d.vocabulary_word_count() > 0 ? std::to_string(d.vocabulary_word_count()) : "-",
           std::to_string(d.bytes() >> 10) + " KiB"});
    }
    PrintTable({"NAME", "EXAMPLES", "LABELLED", "SKIPPED", "VOCABULARY", "SIZE"}, rows);
    return kExitOk;
  }
  if (pos.size() < 3) {
    std::fprintf(stderr, "bottleneck: datasets %s needs COLLECTION NAME\n", pos[0].c_str());
    return kExitUsage;
  }
  if (pos[0] == "delete") {
    v1::DeleteDatasetRequest request;
    request.set_collection(pos[1]);
    request.set_dataset(pos[2]);
    v1::DeleteDatasetResponse response;
    grpc::Status s = client.training().DeleteDataset(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete dataset", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("deleted %s/%s\n", pos[1].c_str(), pos[2].c_str());
    }
    return kExitOk;
  }
  if (pos[0] != "upload") {
    std::fprintf(stderr, "bottleneck: unknown verb 'datasets %s'\n", pos[0].c_str());
    return kExitUsage;
  }
  SourceOptions options;
  options.skip_invalid = args.Has("skip-invalid");
  if (!EncodingFlag(args, &options.encoding)) return kExitUsage;
  if (args.Has("folder") && !IsDocumentCollection(client, pos[1], &options.documents)) {
    return kExitFailure;
  }
  Source source;
  uint64_t batch = 0;
  if (!args.GetUint("batch", 500, &batch) || batch == 0 || !LoadSource(args, options, &source)) {
    return kExitUsage;
  }
  std::vector<std::string> vocabulary;
  if (args.Has("vocab")) {
    auto read = ReadVocabularyFile(args.Get("vocab"), options.encoding);
    if (!read.ok()) {
      std::fprintf(stderr, "bottleneck: %s\n", std::string(read.status().message()).c_str());
      return kExitUsage;
    }
    vocabulary = std::move(*read);
  }
  auto context = client.Context(0);
  v1::Dataset result;
  auto writer = client.training().UploadDataset(context.get(), &result);
  size_t start = 0;
  do {
    v1::UploadDatasetRequest message;
    message.set_collection(pos[1]);
    message.set_dataset(pos[2]);
    message.set_skip_invalid(options.skip_invalid);
    if (start == 0) *message.mutable_vocabulary_words() = {vocabulary.begin(), vocabulary.end()};
    const size_t end = std::min(source.inputs.size(), start + batch);
    for (size_t i = start; i < end; ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = std::move(source.inputs[i]);
      example->set_label(source.labels[i]);
    }
    if (!writer->Write(message)) break;
    Progress("uploading", end, source.inputs.size());
    start = end;
  } while (start < source.inputs.size());
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return Fail("upload dataset", WithOrigin(s, source));
  for (const std::string& why : source.left_out)
    std::fprintf(stderr, "left out: %s\n", why.c_str());
  for (const v1::SkippedExample& skipped : result.skipped()) {
    const std::string origin =
        skipped.index() < source.origins.size() ? source.origins[skipped.index()] + ": " : "";
    std::fprintf(stderr, "skipped: %s%s\n", origin.c_str(), skipped.reason().c_str());
  }
  if (client.options().json) {
    PrintJson(result);
  } else {
    std::printf("dataset %s/%s: %llu examples (%llu labelled)", pos[1].c_str(), pos[2].c_str(),
                static_cast<unsigned long long>(result.example_count()),
                static_cast<unsigned long long>(result.labelled_count()));
    const uint64_t skipped = result.skipped_count() + source.left_out.size();
    if (skipped > 0) {
      std::printf(", %llu skipped", static_cast<unsigned long long>(skipped));
      if (result.skipped_count() > static_cast<uint64_t>(result.skipped_size())) {
        std::printf(" (the first %d shown)", result.skipped_size());
      }
    }
    if (result.vocabulary_word_count() > 0) {
      std::printf(", vocabulary of %u words", result.vocabulary_word_count());
    }
    std::printf("\n");
  }
  return kExitOk;
}

int Items(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"code"});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(
        stderr,
        "usage: bottleneck items upsert COLLECTION (--images IDX [--labels IDX] |\n"
        "         --folder DIR | --text FILE | --bow FILE [--bow-labels FILE]\n"
        "         [--bow-base 1|0]) [--encoding utf-8|latin-1|cp1252] [--limit N]\n"
        "         [--id-prefix P] [--batch N]\n"
        "       bottleneck items get COLLECTION ID [--code] | delete COLLECTION ID...\n"
        "       bottleneck items list COLLECTION [--filter EXPR] [--page-size N] [--code]\n"
        "       bottleneck items count COLLECTION [--filter EXPR]\n"
        "       bottleneck items delete COLLECTION --filter EXPR\n"
        "  (the sources as for 'bottleneck datasets upload')\n");
    return kExitUsage;
  }
  if (pos[0] == "list" || pos[0] == "count" || (pos[0] == "delete" && args.Has("filter"))) {
    return ItemsByFilter(client, args);
  }
  if (pos[0] == "get" && pos.size() >= 3) {
    v1::GetItemRequest request;
    request.set_collection(pos[1]);
    request.set_id(pos[2]);
    request.set_include_code(args.Has("code"));
    v1::GetItemResponse response;
    grpc::Status s = client.items().GetItem(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("get item", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("id %s  label %s\n", response.item().id().c_str(),
                  response.item().label().c_str());
      if (response.has_code()) {
        std::printf("code (v%llu) %s\n", static_cast<unsigned long long>(response.model_version()),
                    CodeString(response.code()).c_str());
      }
    }
    return kExitOk;
  }
  if (pos[0] == "delete" && pos.size() >= 3) {
    v1::DeleteItemsRequest request;
    request.set_collection(pos[1]);
    for (size_t i = 2; i < pos.size(); ++i) request.add_ids(pos[i]);
    v1::DeleteItemsResponse response;
    grpc::Status s = client.items().DeleteItems(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete items", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("deleted %llu items\n", static_cast<unsigned long long>(response.deleted()));
    }
    return kExitOk;
  }
  if (pos[0] != "upsert") {
    std::fprintf(stderr, "bottleneck: see 'bottleneck items' for usage\n");
    return kExitUsage;
  }
  SourceOptions options;
  if (!EncodingFlag(args, &options.encoding)) return kExitUsage;
  if (args.Has("folder") && !IsDocumentCollection(client, pos[1], &options.documents)) {
    return kExitFailure;
  }
  Source source;
  uint64_t batch = 0;
  if (!args.GetUint("batch", 256, &batch) || batch == 0 || !LoadSource(args, options, &source)) {
    return kExitUsage;
  }
  const std::string prefix = args.Get("id-prefix", "item-");
  auto context = client.Context(0);
  v1::UpsertResponse summary;
  auto writer = client.items().StreamUpsert(context.get(), &summary);
  for (size_t start = 0; start < source.inputs.size(); start += batch) {
    v1::UpsertRequest message;
    message.set_collection(pos[1]);
    for (size_t i = start; i < std::min(source.inputs.size(), start + batch); ++i) {
      v1::Item* item = message.add_items();
      item->set_id(prefix + std::to_string(i));
      *item->mutable_input() = std::move(source.inputs[i]);
      item->set_label(source.labels[i]);
    }
    if (!writer->Write(message)) break;
    Progress("upserting", std::min(source.inputs.size(), start + batch), source.inputs.size());
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return Fail("upsert", s);  // items[i] is input i of the source.
  if (client.options().json) {
    PrintJson(summary);
  } else {
    std::printf("upserted %llu items (%llu pending a model)\n",
                static_cast<unsigned long long>(summary.upserted()),
                static_cast<unsigned long long>(summary.pending()));
  }
  return kExitOk;
}

int Search(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"exact", "votes"});
  const auto& pos = args.positional();
  v1::SearchRequest request;
  uint64_t k = 0, ef = 0;
  if (!args.error().empty() || pos.size() != 1 || !args.GetUint("k", 10, &k) ||
      !args.GetUint("ef", 0, &ef)) {
    std::fprintf(stderr,
                 "usage: bottleneck search COLLECTION (--item ID | --image FILE | --text TEXT)\n"
                 "         [--k 10] [--ef N] [--exact] [--filter EXPR] [--votes]\n"
                 "  EXPR: e.g. 'label=boot,sneaker & price<50 & !brand=acme' (client/lib/"
                 "filter_expr.h)\n"
                 "  --votes  also count the neighbours' labels (a k-nearest-neighbour vote)\n");
    return kExitUsage;
  }
  if (args.Has("filter")) {
    std::string error;
    if (!ParseFilterExpr(args.Get("filter"), request.mutable_filter(), &error)) {
      std::fprintf(stderr, "bottleneck: --filter: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  request.set_collection(pos[0]);
  request.set_k(static_cast<uint32_t>(k));
  request.set_ef(static_cast<uint32_t>(ef));
  request.set_exact(args.Has("exact"));
  request.set_label_votes(args.Has("votes"));
  if (args.Has("item")) {
    request.set_item_id(args.Get("item"));
  } else if (!QueryInput(args, request.mutable_input())) {
    std::fprintf(stderr, "bottleneck: search needs --item, --image or --text\n");
    return kExitUsage;
  }
  v1::SearchResponse response;
  grpc::Status s = client.query().Search(client.Context().get(), request, &response);
  if (!s.ok()) return Fail("search", s);
  if (client.options().json) {
    PrintJson(response);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const auto& n : response.neighbors()) {
    char distance[32];
    std::snprintf(distance, sizeof(distance), "%.4f", n.distance());
    rows.push_back({std::to_string(++rank), n.id(), distance, n.label()});
  }
  PrintTable({"RANK", "ID", "DISTANCE", "LABEL"}, rows);
  if (request.label_votes()) {
    std::vector<std::vector<std::string>> votes;
    for (const auto& v : response.label_votes()) {
      char fraction[32];
      std::snprintf(fraction, sizeof(fraction), "%.3f", v.fraction());
      votes.push_back({v.label(), std::to_string(v.count()), fraction});
    }
    std::printf("\n");
    PrintTable({"LABEL", "VOTES", "FRACTION"}, votes);
  }
  return kExitOk;
}

int Encode(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  v1::EncodeRequest request;
  if (!args.error().empty() || pos.size() != 1 || !QueryInput(args, request.add_inputs())) {
    std::fprintf(stderr, "usage: bottleneck encode COLLECTION (--image FILE | --text TEXT)\n");
    return kExitUsage;
  }
  request.set_collection(pos[0]);
  v1::EncodeResponse response;
  grpc::Status s = client.query().Encode(client.Context().get(), request, &response);
  if (!s.ok()) return Fail("encode", s);
  if (client.options().json) {
    PrintJson(response);
  } else {
    std::printf("%s\n", CodeString(response.codes(0)).c_str());
  }
  return kExitOk;
}

int Decode(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() != 1 || args.Has("code") == args.Has("bits")) {
    std::fprintf(stderr,
                 "usage: bottleneck decode COLLECTION (--code V1,V2,... | --bits 0110...)\n"
                 "         [--out FILE.png] [--top-words N]\n"
                 "  --code a float code, --bits a binary code (as 'encode' prints them); an image\n"
                 "  is written to --out (default decoded.png), a document's top words printed\n");
    return kExitUsage;
  }
  v1::DecodeRequest request;
  request.set_collection(pos[0]);
  uint64_t top_words = 0;
  if (!args.GetUint("top-words", 0, &top_words)) return kExitUsage;
  request.set_top_words(static_cast<uint32_t>(top_words));
  if (args.Has("bits")) {
    const std::string bits = args.Get("bits");
    v1::BinaryCode* code = request.add_codes()->mutable_binary_code();
    std::string packed((bits.size() + 7) / 8, '\0');
    for (size_t i = 0; i < bits.size(); ++i) {
      if (bits[i] != '0' && bits[i] != '1') {
        std::fprintf(stderr, "bottleneck: --bits is a string of 0s and 1s\n");
        return kExitUsage;
      }
      if (bits[i] == '1') packed[i / 8] = static_cast<char>(packed[i / 8] | (1 << (i % 8)));
    }
    code->set_bits(packed);
    code->set_num_bits(static_cast<uint32_t>(bits.size()));
  } else {
    v1::FloatCode* code = request.add_codes()->mutable_float_code();
    std::stringstream in(args.Get("code"));
    for (std::string part; std::getline(in, part, ',');) {
      char* end = nullptr;
      const float v = std::strtof(part.c_str(), &end);
      if (part.empty() || *end != '\0') {
        std::fprintf(stderr, "bottleneck: --code is comma-separated numbers\n");
        return kExitUsage;
      }
      code->add_values(v);
    }
  }
  v1::DecodeResponse response;
  grpc::Status s = client.query().Decode(client.Context().get(), request, &response);
  if (!s.ok()) return Fail("decode", s);
  const v1::Output& output = response.outputs(0);
  if (output.has_image()) {
    const std::string path = args.Get("out", "decoded.png");
    std::ofstream(path, std::ios::binary) << output.image().encoded();
    std::fprintf(client.options().json ? stderr : stdout, "wrote %s\n", path.c_str());
  }
  if (client.options().json) {
    PrintJson(response);
  } else if (!output.has_image()) {
    for (const auto& w : output.words().words())
      std::printf("%s %.4f\n", w.word().c_str(), w.weight());
  }
  return kExitOk;
}

}  // namespace bn::cli
