// CLI: datasets, items, search, encode, decode.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "client/cli.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"

namespace bn::cli {

namespace {

// A source of examples: IDX images (+ labels), a folder of images with label subfolders, or a
// text file with one "label<TAB>text" document per line.
struct Source {
  std::vector<v1::Input> inputs;
  std::vector<std::string> labels;  // Empty strings for unlabelled.
};

bool LoadSource(const Args& args, Source* source) {
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
    }
    return true;
  }
  if (args.Has("folder")) {
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(args.Get("folder"), ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string ext = entry.path().extension().string();
      if (ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".PNG" && ext != ".JPG") {
        continue;
      }
      std::string bytes;
      if (!ReadFile(entry.path().string(), &bytes)) return false;
      v1::Input input;
      input.mutable_image()->set_encoded(std::move(bytes));
      source->inputs.push_back(std::move(input));
      const auto parent = entry.path().parent_path();
      source->labels.push_back(
          parent == std::filesystem::path(args.Get("folder")) ? "" : parent.filename().string());
      if (max_items > 0 && static_cast<int64_t>(source->inputs.size()) >= max_items) break;
    }
    if (ec) {
      std::fprintf(stderr, "bottleneck: cannot read folder: %s\n", ec.message().c_str());
      return false;
    }
    return true;
  }
  if (args.Has("text")) {
    std::ifstream in(args.Get("text"));
    if (!in) {
      std::fprintf(stderr, "bottleneck: cannot read %s\n", args.Get("text").c_str());
      return false;
    }
    std::string line;
    while (std::getline(in, line)) {
      const size_t tab = line.find('\t');
      v1::Input input;
      input.mutable_document()->set_text(tab == std::string::npos ? line : line.substr(tab + 1));
      source->inputs.push_back(std::move(input));
      source->labels.push_back(tab == std::string::npos ? "" : line.substr(0, tab));
      if (max_items > 0 && static_cast<int64_t>(source->inputs.size()) >= max_items) break;
    }
    return true;
  }
  std::fprintf(stderr,
               "bottleneck: give --images FILE [--labels FILE], --folder DIR or --text FILE\n");
  return false;
}

void Progress(const char* what, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO) && done != total) return;
  const int filled = total == 0 ? 20 : static_cast<int>(20.0 * done / total);
  std::fprintf(stderr, "\r%s [%s%s] %zu/%zu", what, std::string(filled, '#').c_str(),
               std::string(20 - filled, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

// The query input from --image FILE or --text "..." (for search and encode).
bool QueryInput(const Args& args, v1::Input* input) {
  if (args.Has("image")) {
    std::string bytes;
    if (!ReadFile(args.Get("image"), &bytes)) return false;
    input->mutable_image()->set_encoded(std::move(bytes));
    return true;
  }
  if (args.Has("text")) {
    input->mutable_document()->set_text(args.Get("text"));
    return true;
  }
  return false;
}

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

}  // namespace

int Datasets(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(
        stderr,
        "usage: bottleneck datasets upload COLLECTION NAME (--images IDX [--labels IDX] |\n"
        "         --folder DIR | --text FILE) [--limit N] [--batch N]\n"
        "       bottleneck datasets list COLLECTION | delete COLLECTION NAME\n");
    return kExitUsage;
  }
  if (pos[0] == "list") {
    v1::ListDatasetsRequest request;
    request.set_collection(pos[1]);
    v1::ListDatasetsResponse response;
    grpc::Status s = client.training().ListDatasets(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("list datasets", s);
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : response.datasets()) {
      if (client.options().json) PrintJson(d);
      rows.push_back({d.name(), std::to_string(d.example_count()),
                      std::to_string(d.labelled_count()),
                      std::to_string(d.bytes() >> 10) + " KiB"});
    }
    if (!client.options().json) PrintTable({"NAME", "EXAMPLES", "LABELLED", "SIZE"}, rows);
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
    std::printf("deleted %s/%s\n", pos[1].c_str(), pos[2].c_str());
    return kExitOk;
  }
  if (pos[0] != "upload") {
    std::fprintf(stderr, "bottleneck: unknown verb 'datasets %s'\n", pos[0].c_str());
    return kExitUsage;
  }
  Source source;
  uint64_t batch = 0;
  if (!args.GetUint("batch", 500, &batch) || batch == 0 || !LoadSource(args, &source)) {
    return kExitUsage;
  }
  auto context = client.Context(0);
  v1::Dataset result;
  auto writer = client.training().UploadDataset(context.get(), &result);
  for (size_t start = 0; start < source.inputs.size(); start += batch) {
    v1::UploadDatasetRequest message;
    message.set_collection(pos[1]);
    message.set_dataset(pos[2]);
    for (size_t i = start; i < std::min(source.inputs.size(), start + batch); ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = std::move(source.inputs[i]);
      example->set_label(source.labels[i]);
    }
    if (!writer->Write(message)) break;
    Progress("uploading", std::min(source.inputs.size(), start + batch), source.inputs.size());
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return Fail("upload dataset", s);
  if (client.options().json) {
    PrintJson(result);
  } else {
    std::printf("dataset %s/%s: %llu examples (%llu labelled)\n", pos[1].c_str(), pos[2].c_str(),
                static_cast<unsigned long long>(result.example_count()),
                static_cast<unsigned long long>(result.labelled_count()));
  }
  return kExitOk;
}

int Items(Client& client, const std::vector<std::string>& words) {
  Args args(words, {"code"});
  const auto& pos = args.positional();
  if (!args.error().empty() || pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: bottleneck items upsert COLLECTION (--images IDX [--labels IDX] |\n"
                 "         --folder DIR | --text FILE) [--limit N] [--id-prefix P] [--batch N]\n"
                 "       bottleneck items get COLLECTION ID [--code] | delete COLLECTION ID...\n");
    return kExitUsage;
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
    std::printf("deleted %llu items\n", static_cast<unsigned long long>(response.deleted()));
    return kExitOk;
  }
  if (pos[0] != "upsert") {
    std::fprintf(stderr, "bottleneck: see 'bottleneck items' for usage\n");
    return kExitUsage;
  }
  Source source;
  uint64_t batch = 0;
  if (!args.GetUint("batch", 256, &batch) || batch == 0 || !LoadSource(args, &source)) {
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
  if (!s.ok()) return Fail("upsert", s);
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
  Args args(words, {"exact"});
  const auto& pos = args.positional();
  v1::SearchRequest request;
  uint64_t k = 0, ef = 0;
  if (!args.error().empty() || pos.size() != 1 || !args.GetUint("k", 10, &k) ||
      !args.GetUint("ef", 0, &ef)) {
    std::fprintf(stderr,
                 "usage: bottleneck search COLLECTION (--item ID | --image FILE | --text TEXT)\n"
                 "         [--k 10] [--ef N] [--exact]\n");
    return kExitUsage;
  }
  request.set_collection(pos[0]);
  request.set_k(static_cast<uint32_t>(k));
  request.set_ef(static_cast<uint32_t>(ef));
  request.set_exact(args.Has("exact"));
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
  if (!args.error().empty() || pos.size() != 1 || !args.Has("code")) {
    std::fprintf(stderr, "usage: bottleneck decode COLLECTION --code V1,V2,... [--out FILE.png]\n");
    return kExitUsage;
  }
  v1::DecodeRequest request;
  request.set_collection(pos[0]);
  v1::FloatCode* code = request.add_codes()->mutable_float_code();
  std::string text = args.Get("code");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start)
      code->add_values(std::strtof(text.substr(start, comma - start).c_str(), nullptr));
    start = comma + 1;
  }
  v1::DecodeResponse response;
  grpc::Status s = client.query().Decode(client.Context().get(), request, &response);
  if (!s.ok()) return Fail("decode", s);
  const v1::Output& output = response.outputs(0);
  if (output.has_image()) {
    const std::string path = args.Get("out", "decoded.png");
    std::ofstream(path, std::ios::binary) << output.image().encoded();
    std::printf("wrote %s\n", path.c_str());
  } else if (client.options().json) {
    PrintJson(response);
  } else {
    for (const auto& w : output.words().words())
      std::printf("%s %.4f\n", w.word().c_str(), w.weight());
  }
  return kExitOk;
}

}  // namespace bn::cli
