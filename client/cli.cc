#include "client/cli.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/status/status.h"

namespace bn::cli {

Args::Args(const std::vector<std::string>& words, const std::vector<std::string>& booleans) {
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.rfind("--", 0) != 0) {
      positional_.push_back(w);
      continue;
    }
    std::string name = w.substr(2);
    if (size_t eq = name.find('='); eq != std::string::npos) {
      flags_[name.substr(0, eq)] = name.substr(eq + 1);
    } else if (std::find(booleans.begin(), booleans.end(), name) != booleans.end()) {
      flags_[name] = "true";
    } else if (i + 1 < words.size()) {
      flags_[name] = words[++i];
    } else {
      error_ = "flag --" + name + " needs a value";
    }
  }
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? fallback : it->second;
}

bool Args::GetUint(const std::string& name, uint64_t fallback, uint64_t* out) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) {
    *out = fallback;
    return true;
  }
  char* end = nullptr;
  const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || it->second[0] == '-') {
    std::fprintf(stderr, "bottleneck: --%s needs a non-negative integer\n", name.c_str());
    return false;
  }
  *out = v;
  return true;
}

bool Args::GetDouble(const std::string& name, double fallback, double* out) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) {
    *out = fallback;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') {
    std::fprintf(stderr, "bottleneck: --%s needs a number\n", name.c_str());
    return false;
  }
  return true;
}

Client::Client(const GlobalOptions& options) : options_(options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ReadFile(options.tls_ca, &ssl.pem_root_certs);
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(options.server, credentials, arguments);
  collections_ = v1::CollectionService::NewStub(channel_);
  training_ = v1::TrainingService::NewStub(channel_);
  models_ = v1::ModelService::NewStub(channel_);
  items_ = v1::ItemService::NewStub(channel_);
  query_ = v1::QueryService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Client::Context(double seconds) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (seconds < 0) seconds = options_.timeout_seconds;
  if (seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  }
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
  return context;
}

namespace {
bool json_output = false;
}  // namespace

void SetJsonOutput(bool json) { json_output = json; }
bool JsonOutput() { return json_output; }

int Fail(const std::string& what, const grpc::Status& status) {
  // gRPC's codes are absl's, number for number.
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::fprintf(stderr, "bottleneck: %s: %s: %s\n", what.c_str(), code.c_str(),
               status.error_message().c_str());
  if (json_output) {
    google::protobuf::Struct error, body;
    (*body.mutable_fields())["what"].set_string_value(what);
    (*body.mutable_fields())["code"].set_string_value(code);
    (*body.mutable_fields())["message"].set_string_value(status.error_message());
    *(*error.mutable_fields())["error"].mutable_struct_value() = body;
    PrintJson(error);
  }
  return kExitFailure;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t j = 0; j < header.size(); ++j) widths[j] = header[j].size();
  for (const auto& row : rows) {
    for (size_t j = 0; j < row.size() && j < widths.size(); ++j) {
      widths[j] = std::max(widths[j], row[j].size());
    }
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t j = 0; j < row.size(); ++j) {
      line += row[j];
      if (j + 1 < row.size()) line += std::string(widths[j] - row[j].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const auto& row : rows) print(row);
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bottleneck: cannot read %s\n", path.c_str());
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

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

}  // namespace bn::cli
