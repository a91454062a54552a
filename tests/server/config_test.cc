#include "server/config.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

TEST(ServerConfigTest, DefaultsMatchTheReadme) {
  auto config = ParseServerFlags({"bottleneckd"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->data_dir, "./data");
  EXPECT_TRUE(config->training_enabled);
  EXPECT_TRUE(config->sync_writes);
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
}

TEST(ServerConfigTest, BothFlagFormsAndBooleans) {
  auto config = ParseServerFlags({"bottleneckd", "--listen=0.0.0.0:9000", "--data-dir", "/srv/bn",
                                  "--no-training", "--max-concurrent-jobs", "3"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "0.0.0.0:9000");
  EXPECT_EQ(config->data_dir, "/srv/bn");
  EXPECT_FALSE(config->training_enabled);
  EXPECT_EQ(config->max_concurrent_jobs, 3);
}

TEST(ServerConfigTest, ConfigFileIsReadFirstAndFlagsOverrideIt) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("bn.conf")) << "# comment\n"
                                       "listen = 127.0.0.1:7000\n"
                                       "data-dir /var/lib/bn  # trailing comment\n"
                                       "sync-writes = false\n";
  auto config = ParseServerFlags(
      {"bottleneckd", "--listen", "127.0.0.1:7001", "--config", dir.Sub("bn.conf")});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:7001");
  EXPECT_EQ(config->data_dir, "/var/lib/bn");
  EXPECT_FALSE(config->sync_writes);
}

TEST(ServerConfigTest, ErrorsNameTheProblem) {
  auto unknown = ParseServerFlags({"bottleneckd", "--bogus=1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--bogus"), std::string::npos);

  auto bad_int = ParseServerFlags({"bottleneckd", "--inference-threads", "many"});
  ASSERT_FALSE(bad_int.ok());
  EXPECT_NE(bad_int.status().message().find("inference-threads"), std::string::npos);

  auto missing = ParseServerFlags({"bottleneckd", "--listen"});
  EXPECT_FALSE(missing.ok());

  auto bad_file = ParseServerFlags({"bottleneckd", "--config", "/nonexistent/bn.conf"});
  EXPECT_FALSE(bad_file.ok());
}

TEST(ServerConfigTest, ValidationRejectsBadValues) {
  ServerConfig config;
  config.listen = "no-port";
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.listen = "127.0.0.1:70000";
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.tls_cert_file = "cert.pem";
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.log_level = "loud";
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.max_concurrent_jobs = 0;
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.background_nice = 21;
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.checkpoint_interval_seconds = -1;
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.grpc_max_pollers = 0;
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.inference_precision = "fp8";
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config.inference_precision = "bf16";
  EXPECT_TRUE(ValidateServerConfig(config).ok());
  config = ServerConfig();
  config.neighbour_cache_items = -1;
  EXPECT_EQ(ValidateServerConfig(config).code(), absl::StatusCode::kInvalidArgument);
  config.neighbour_cache_items = 0;  // Off.
  EXPECT_TRUE(ValidateServerConfig(config).ok());
}

TEST(ServerConfigTest, BackgroundWorkDefaultsBelowQueries) {
  auto config = ParseServerFlags({"bottleneckd"});
  ASSERT_TRUE(config.ok()) << config.status();
  // SCHED_IDLE (20) for training, ingest and index maintenance; the README says so.
  EXPECT_EQ(config->training_nice, 20);
  EXPECT_EQ(config->ingest_nice, 20);
  EXPECT_EQ(config->background_nice, 20);
  EXPECT_EQ(config->checkpoint_interval_seconds, 60);
  EXPECT_EQ(config->grpc_max_pollers, 8);
  auto set = ParseServerFlags({"bottleneckd", "--training-nice", "10", "--background-nice=5",
                               "--checkpoint-interval-seconds", "0", "--grpc-max-pollers", "4"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->training_nice, 10);
  EXPECT_EQ(set->background_nice, 5);
  EXPECT_EQ(set->checkpoint_interval_seconds, 0);
  EXPECT_EQ(set->grpc_max_pollers, 4);
  EXPECT_TRUE(ValidateServerConfig(*set).ok());
}

TEST(ServerConfigTest, DiskFloodStageFlags) {
  auto defaults = ParseServerFlags({"bottleneckd"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->disk_flood_free_bytes, uint64_t{256} << 20);
  EXPECT_EQ(defaults->disk_flood_free_percent, 2);
  // Byte counts beyond 2^31 parse (a 64-bit flag).
  auto config =
      ParseServerFlags({"bottleneckd", "--disk-flood-free-bytes", "10737418240",
                        "--disk-flood-free-percent=5", "--disk-check-interval-ms", "250"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->disk_flood_free_bytes, uint64_t{10} << 30);
  EXPECT_EQ(config->disk_flood_free_percent, 5);
  EXPECT_EQ(config->disk_check_interval_ms, 250);
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
  auto negative = ParseServerFlags({"bottleneckd", "--disk-flood-free-bytes", "-1"});
  EXPECT_TRUE(absl::IsInvalidArgument(negative.status()));
  config->disk_flood_free_percent = 60;
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateServerConfig(*config)));
  config->disk_flood_free_percent = 2;
  config->disk_check_interval_ms = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateServerConfig(*config)));
}

TEST(ServerConfigTest, BackupFlags) {
  auto defaults = ParseServerFlags({"bottleneckd"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->backup_dir, "");  // DATA_DIR/backups.
  EXPECT_EQ(defaults->restore, "");
  auto config = ParseServerFlags(
      {"bottleneckd", "--backup-dir", "/srv/backups", "--restore", "/srv/backups/b1"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->backup_dir, "/srv/backups");
  EXPECT_EQ(config->restore, "/srv/backups/b1");
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
  config->follow = "/srv/primary";
  absl::Status follow = ValidateServerConfig(*config);
  EXPECT_TRUE(absl::IsInvalidArgument(follow));
  EXPECT_NE(follow.message().find("--restore"), std::string::npos) << follow;
  config->follow.clear();
  // With --cluster: a cluster backup restored into a fresh cluster (cluster_restore.h).
  config->cluster = "nats://127.0.0.1:4222";
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
}

TEST(ServerConfigTest, UsageListsEveryFlag) {
  const std::string usage = ServerUsage();
  for (const char* flag :
       {"--listen", "--training-listen", "--data-dir", "--tls-cert", "--admin-token-file",
        "--query-token-file", "--config", "--backup-dir", "--restore"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace bn
