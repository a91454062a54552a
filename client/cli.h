// Shared plumbing of the `bottleneck` CLI: global options, the channel and stubs, per-call
// contexts (deadline + bearer token), flag parsing and output (tables or --json).
#ifndef BOTTLENECK_CLIENT_CLI_H_
#define BOTTLENECK_CLIENT_CLI_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"

namespace bn::cli {

namespace v1 = ::bottleneck::v1;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string server = "127.0.0.1:50051";
  double timeout_seconds = 30;
  std::string token;   // From --token-file or $BOTTLENECK_TOKEN.
  std::string tls_ca;  // PEM file: use TLS and trust this CA.
  bool json = false;
};

// Flags of one command: "--name value" or "--name=value"; bare words are positional.
class Args {
 public:
  // Parses; `booleans` lists flags that take no value.
  Args(const std::vector<std::string>& words, const std::vector<std::string>& booleans);
  bool Has(const std::string& name) const { return flags_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Non-negative integer flag; returns false (and prints why) when malformed.
  bool GetUint(const std::string& name, uint64_t fallback, uint64_t* out) const;
  bool GetDouble(const std::string& name, double fallback, double* out) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& error() const { return error_; }

 private:
  std::map<std::string, std::string> flags_;
  std::vector<std::string> positional_;
  std::string error_;
};

class Client {
 public:
  explicit Client(const GlobalOptions& options);
  const GlobalOptions& options() const { return options_; }
  // The channel every stub uses (TLS and message limits set up once, here).
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // A context with the deadline (0 seconds = none) and the bearer token.
  std::unique_ptr<grpc::ClientContext> Context(double seconds = -1) const;

  v1::CollectionService::Stub& collections() { return *collections_; }
  v1::TrainingService::Stub& training() { return *training_; }
  v1::ModelService::Stub& models() { return *models_; }
  v1::ItemService::Stub& items() { return *items_; }
  v1::QueryService::Stub& query() { return *query_; }

 private:
  GlobalOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::TrainingService::Stub> training_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

// --json (README "Scripting with --json", a stable contract): stdout carries only JSON, one
// object per line, and the last line is the command's result (a v1 message in the proto3 JSON
// mapping: the .proto's field names, every field even when zero, 64-bit integers as strings,
// enums by name, bytes in base64); progress and messages go to stderr. SetJsonOutput is called
// once by main.
void SetJsonOutput(bool json);
bool JsonOutput();

// Prints a failed call ("bottleneck: <what>: <CODE>: <message>" on stderr; with --json also
// {"error": {"what", "code", "message"}} on stdout) and returns kExitFailure.
int Fail(const std::string& what, const grpc::Status& status);
// Prints a message as one line of JSON on stdout (the --json mapping above).
void PrintJson(const google::protobuf::Message& message);
// Prints rows as an aligned table with a header.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
// Reads a whole file; false (with a message) on error.
bool ReadFile(const std::string& path, std::string* out);
// The query input of --image FILE or --text "..." (search, encode, classify); false when neither
// is given or the file cannot be read.
bool QueryInput(const Args& args, v1::Input* input);

// Commands (client/commands_*.cc). Each returns an exit status.
int Collections(Client& client, const std::vector<std::string>& args);
int Datasets(Client& client, const std::vector<std::string>& args);
int Train(Client& client, const std::vector<std::string>& args);
int Jobs(Client& client, const std::vector<std::string>& args);
int Models(Client& client, const std::vector<std::string>& args);
// A code as comma-separated floats or a bit string.
std::string CodeString(const v1::Code& code);
int Items(Client& client, const std::vector<std::string>& args);
// `items list|count COLLECTION [--filter EXPR]` and `items delete COLLECTION --filter EXPR`
// (commands_items.cc); called by Items for those forms.
int ItemsByFilter(Client& client, const Args& args);
int Search(Client& client, const std::vector<std::string>& args);
int Encode(Client& client, const std::vector<std::string>& args);
int Decode(Client& client, const std::vector<std::string>& args);
int Classify(Client& client, const std::vector<std::string>& args);  // commands_classify.cc
// backups create|list|restore and aliases create|switch|delete|list (commands_backups.cc).
int Backups(Client& client, const std::vector<std::string>& args);
int Aliases(Client& client, const std::vector<std::string>& args);
// The whole story on Fashion-MNIST with plots (client/commands_demo.cc).
int Demo(Client& client, const std::vector<std::string>& args);
// Watches a job until it ends: a live progress line on stderr (with --json, each JobProgress
// as a JSON line on stdout). Fills `job` with its final state; kExitOk when it succeeded.
int WatchJob(Client& client, const std::string& job_id, v1::Job* job);
// One human-readable line for a job's progress: a bar, the phase, the epoch or block, loss,
// validation error, rate, elapsed time and ETA.
std::string ProgressLine(const v1::JobProgress& p);
// Makes `version` serve `collection` (PromoteModel, idempotent: it joins a running promotion of
// that version) and, with `wait`, polls until the switch with a re-encoding progress bar on
// stderr; waits for another version's promotion to finish first. Fills `collection_out` with
// the collection afterwards (and `promotion` with PromoteModel's reply). kExitFailure when the
// promotion ends without switching.
int Promote(Client& client, const std::string& collection, uint64_t version, bool wait,
            v1::Promotion* promotion, v1::Collection* collection_out);

}  // namespace bn::cli

#endif  // BOTTLENECK_CLIENT_CLI_H_
