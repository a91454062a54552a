// CLI: classify (QueryService.Classify with a classifier version of the collection).
#include <cstdio>

#include "client/cli.h"

namespace bn::cli {

int Classify(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  v1::ClassifyRequest request;
  uint64_t k = 0, version = 0;
  if (!args.error().empty() || pos.size() != 1 || !args.GetUint("k", 5, &k) ||
      !args.GetUint("model", 0, &version) || !QueryInput(args, request.add_inputs())) {
    std::fprintf(stderr,
                 "usage: bottleneck classify COLLECTION (--image FILE | --text TEXT) [--k 5]\n"
                 "         [--model VERSION]\n"
                 "  the most probable labels by a classifier version (train --classifier);\n"
                 "  --model 0 or none: the collection's newest classifier version\n");
    return kExitUsage;
  }
  request.set_collection(pos[0]);
  request.set_k(static_cast<uint32_t>(k));
  request.set_model_version(version);
  v1::ClassifyResponse response;
  grpc::Status s = client.query().Classify(client.Context().get(), request, &response);
  if (!s.ok()) return Fail("classify", s);
  if (client.options().json) {
    PrintJson(response);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const auto& label : response.classifications(0).labels()) {
    char probability[32];
    std::snprintf(probability, sizeof(probability), "%.4f", label.probability());
    rows.push_back({std::to_string(++rank), label.label(), probability});
  }
  std::printf("classifier v%llu\n", static_cast<unsigned long long>(response.model_version()));
  PrintTable({"RANK", "LABEL", "PROBABILITY"}, rows);
  return kExitOk;
}

}  // namespace bn::cli
