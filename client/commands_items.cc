// CLI: items list / count / delete by filter (issue 24).
#include <cstdio>

#include "client/cli.h"
#include "client/lib/filter_expr.h"

namespace bn::cli {

namespace {

// Parses --filter into *filter when given; false (usage printed) on a syntax error.
bool FilterFlag(const Args& args, v1::Filter* filter, bool* has) {
  *has = args.Has("filter");
  if (!*has) return true;
  std::string error;
  if (!ParseFilterExpr(args.Get("filter"), filter, &error)) {
    std::fprintf(stderr, "bottleneck: --filter: %s\n", error.c_str());
    return false;
  }
  return true;
}

}  // namespace

int ItemsByFilter(Client& client, const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() != 2) {
    std::fprintf(stderr, "bottleneck: see 'bottleneck items' for usage\n");
    return kExitUsage;
  }
  v1::Filter filter;
  bool has_filter = false;
  if (!FilterFlag(args, &filter, &has_filter)) return kExitUsage;
  if (pos[0] == "count") {
    v1::CountItemsRequest request;
    request.set_collection(pos[1]);
    if (has_filter) *request.mutable_filter() = filter;
    v1::CountItemsResponse response;
    grpc::Status s = client.items().CountItems(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("count items", s);
    std::printf("%llu\n", static_cast<unsigned long long>(response.count()));
    return kExitOk;
  }
  if (pos[0] == "delete") {
    v1::DeleteItemsRequest request;
    request.set_collection(pos[1]);
    *request.mutable_filter() = filter;
    v1::DeleteItemsResponse response;
    grpc::Status s = client.items().DeleteItems(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete items", s);
    std::printf("deleted %llu items\n", static_cast<unsigned long long>(response.deleted()));
    return kExitOk;
  }
  // list: every page, printed as it arrives.
  uint64_t page_size = 0;
  if (!args.GetUint("page-size", 100, &page_size)) return kExitUsage;
  v1::ListItemsRequest request;
  request.set_collection(pos[1]);
  request.set_page_size(static_cast<uint32_t>(page_size));
  request.set_include_codes(args.Has("code"));
  if (has_filter) *request.mutable_filter() = filter;
  std::vector<std::vector<std::string>> rows;
  for (;;) {
    v1::ListItemsResponse page;
    grpc::Status s = client.items().ListItems(client.Context().get(), request, &page);
    if (!s.ok()) return Fail("list items", s);
    for (const auto& listed : page.items()) {
      if (client.options().json) {
        PrintJson(listed);
        continue;
      }
      std::string metadata;
      for (const auto& [key, value] : listed.item().metadata()) {
        metadata += (metadata.empty() ? "" : " ") + key + "=" + value;
      }
      rows.push_back({listed.item().id(), listed.item().label(), metadata});
      if (listed.has_code()) rows.back().push_back(CodeString(listed.code()));
    }
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (!client.options().json) {
    std::vector<std::string> header = {"ID", "LABEL", "METADATA"};
    if (request.include_codes()) header.push_back("CODE");
    PrintTable(header, rows);
  }
  return kExitOk;
}

}  // namespace bn::cli
