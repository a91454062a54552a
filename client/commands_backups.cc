// CLI: backups create|list|delete|restore and aliases create|switch|delete|list (issue 24).
#include <google/protobuf/util/time_util.h>

#include <cstdio>

#include "client/cli.h"

namespace bn::cli {

namespace {

std::string Time(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

void PrintBackups(const std::vector<v1::Backup>& backups) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : backups) {
    std::string collections;
    for (const auto& c : b.collections()) {
      collections +=
          (collections.empty() ? "" : " ") + c.name() + "=" + std::to_string(c.item_count());
    }
    rows.push_back({b.name(), Time(b.create_time()), std::to_string(b.size_bytes()),
                    std::to_string(b.store_sequence()), collections, b.path()});
  }
  PrintTable({"NAME", "CREATED", "BYTES", "SEQUENCE", "ITEMS", "PATH"}, rows);
}

constexpr char kBackupsUsage[] =
    "usage: bottleneck backups create [NAME] | list | delete NAME |\n"
    "                          restore NAME --data-dir DIR (single node) | restore NAME (cluster)\n"
    "  create   a consistent online copy of the whole store under the server's --backup-dir\n"
    "           (default DATA_DIR/backups); NAME defaults to backup-<UTC time>\n"
    "           (cluster mode: the backup of the whole cluster, in the --backup-dir of the node\n"
    "           asked; any node lists every node's backups, only that node deletes it)\n"
    "  list     the server's backups, oldest first\n"
    "  delete   removes backup NAME from the server's --backup-dir\n"
    "  restore  prints the command that restores backup NAME on the server's host; the CLI\n"
    "           does not restore by itself (a restore starts a new server on a new or empty\n"
    "           --data-dir: stop the old one first if it is to use the same port)\n";

constexpr char kAliasesUsage[] =
    "usage: bottleneck aliases create ALIAS COLLECTION | switch ALIAS COLLECTION |\n"
    "                          delete ALIAS | list\n"
    "  Item and query commands accept an alias wherever they take a collection; switch points\n"
    "  it at another collection in one step (blue/green re-indexing).\n";

}  // namespace

int Backups(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  if (!args.error().empty()) {
    std::fprintf(stderr, "bottleneck: %s\n%s", args.error().c_str(), kBackupsUsage);
    return kExitUsage;
  }
  const auto& pos = args.positional();
  const std::string verb = pos.empty() ? "" : pos[0];
  if (verb == "create" && pos.size() <= 2) {
    v1::CreateBackupRequest request;
    if (pos.size() == 2) request.set_name(pos[1]);
    v1::Backup response;
    // A backup of a large store takes a while: no default deadline beyond --timeout's.
    grpc::Status s = client.collections().CreateBackup(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("create backup", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      PrintBackups({response});
    }
    return kExitOk;
  }
  if (verb == "delete" && pos.size() == 2) {
    v1::DeleteBackupRequest request;
    request.set_name(pos[1]);
    v1::DeleteBackupResponse response;
    grpc::Status s = client.collections().DeleteBackup(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete backup", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("deleted backup %s (%s)\n", response.backup().name().c_str(),
                  response.backup().path().c_str());
    }
    return kExitOk;
  }
  if ((verb == "list" && pos.size() == 1) || (verb == "restore" && pos.size() == 2)) {
    v1::ListBackupsResponse response;
    grpc::Status s = client.collections().ListBackups(client.Context().get(), {}, &response);
    if (!s.ok()) return Fail("list backups", s);
    if (verb == "list") {
      if (client.options().json) {
        PrintJson(response);
      } else {
        PrintBackups({response.backups().begin(), response.backups().end()});
      }
      return kExitOk;
    }
    for (const auto& b : response.backups()) {
      if (b.name() != pos[1]) continue;
      std::string command;
      if (!b.node().empty()) {
        // A cluster backup: a one-shot into a fresh cluster, on the host of the node that
        // holds it; the new cluster's nodes are started afterwards.
        std::fprintf(stderr,
                     "run on node %s's host (the backup's path is there), against a fresh "
                     "NATS cluster, then start the nodes:\n",
                     b.node().c_str());
        command = "bottleneckd --cluster NATS_URLS --cluster-name NAME --restore " + b.path();
      } else {
        if (!args.Has("data-dir")) {
          std::fprintf(stderr, "bottleneck: backups restore needs --data-dir DIR\n%s",
                       kBackupsUsage);
          return kExitUsage;
        }
        std::fprintf(stderr,
                     "run on the server's host (the backup's path is the server's), with the "
                     "server's other flags:\n");
        command = "bottleneckd --restore " + b.path() + " --data-dir " + args.Get("data-dir");
      }
      if (client.options().json) {
        std::fprintf(stderr, "%s\n", command.c_str());
        PrintJson(b);
      } else {
        std::printf("%s\n", command.c_str());
      }
      return kExitOk;
    }
    return Fail("restore backup",
                grpc::Status(grpc::StatusCode::NOT_FOUND, "backup '" + pos[1] + "' not found"));
  }
  std::fprintf(stderr, "%s", kBackupsUsage);
  return kExitUsage;
}

int Aliases(Client& client, const std::vector<std::string>& words) {
  Args args(words, {});
  const auto& pos = args.positional();
  const std::string verb = pos.empty() ? "" : pos[0];
  if (!args.error().empty()) {
    std::fprintf(stderr, "bottleneck: %s\n%s", args.error().c_str(), kAliasesUsage);
    return kExitUsage;
  }
  if ((verb == "create" || verb == "switch") && pos.size() == 3) {
    v1::Alias response;
    grpc::Status s;
    if (verb == "create") {
      v1::CreateAliasRequest request;
      request.set_name(pos[1]);
      request.set_collection(pos[2]);
      s = client.collections().CreateAlias(client.Context().get(), request, &response);
    } else {
      v1::SwitchAliasRequest request;
      request.set_name(pos[1]);
      request.set_collection(pos[2]);
      s = client.collections().SwitchAlias(client.Context().get(), request, &response);
    }
    if (!s.ok()) return Fail(verb + " alias", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("%s -> %s\n", response.name().c_str(), response.collection().c_str());
    }
    return kExitOk;
  }
  if (verb == "delete" && pos.size() == 2) {
    v1::DeleteAliasRequest request;
    request.set_name(pos[1]);
    v1::DeleteAliasResponse response;
    grpc::Status s = client.collections().DeleteAlias(client.Context().get(), request, &response);
    if (!s.ok()) return Fail("delete alias", s);
    if (client.options().json) {
      PrintJson(response);
    } else {
      std::printf("deleted alias %s\n", pos[1].c_str());
    }
    return kExitOk;
  }
  if (verb == "list" && pos.size() == 1) {
    v1::ListAliasesResponse response;
    grpc::Status s = client.collections().ListAliases(client.Context().get(), {}, &response);
    if (!s.ok()) return Fail("list aliases", s);
    if (client.options().json) {
      PrintJson(response);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : response.aliases()) rows.push_back({a.name(), a.collection()});
    PrintTable({"ALIAS", "COLLECTION"}, rows);
    return kExitOk;
  }
  std::fprintf(stderr, "%s", kAliasesUsage);
  return kExitUsage;
}

}  // namespace bn::cli
