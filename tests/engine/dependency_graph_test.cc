// The engine's folders form a layered DAG: each folder may include only the folders its row of
// kAllowed names (its own files always). Adding an edge means editing this table, on purpose.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

namespace fs = std::filesystem;

// folder -> the folders it may include, lowest layers first.
const std::map<std::string, std::set<std::string>>& Allowed() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"util", {}},
      {"nn", {"util"}},
      {"input", {"util"}},
      {"data", {"input", "util"}},
      {"store", {"util"}},
      {"index", {"store", "util"}},
      {"model", {"nn", "input", "util"}},
      {"eval", {"model", "util"}},
      {"train", {"model", "nn", "util"}},
  };
  return *table;
}

struct Include {
  std::string file;  // relative to the source root
  int line = 0;
  std::string text;    // the include line
  std::string target;  // the engine folder, or "server/" etc. outside the engine
};

// Every include of the project's own files by every engine/**/*.{h,cc} file, keyed by the
// including folder.
std::multimap<std::string, Include> ScanEngine(const fs::path& root) {
  static const std::regex kProjectInclude(
      R"re(^\s*#\s*include\s+"(engine|server|client|bench|tests|proto|bottleneck)/(\w+))re");
  std::multimap<std::string, Include> out;
  for (const auto& entry : fs::recursive_directory_iterator(root / "engine")) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file() || (p.extension() != ".h" && p.extension() != ".cc")) continue;
    const fs::path rel = fs::relative(p, root);
    auto part = std::next(rel.begin());  // engine/<folder>/...
    if (part == rel.end() || std::next(part) == rel.end()) continue;
    const std::string folder = part->string();
    std::ifstream in(p);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::smatch m;
      if (!std::regex_search(line, m, kProjectInclude)) continue;
      const std::string target = m[1] == "engine" ? m[2].str() : m[1].str() + "/";
      out.emplace(folder, Include{rel.string(), number, line, target});
    }
  }
  return out;
}

// A cycle in `graph` as "a -> b -> a", or "" when it is acyclic.
std::string FindCycle(const std::map<std::string, std::set<std::string>>& graph) {
  std::map<std::string, int> state;  // 0 unseen, 1 on the stack, 2 done
  std::vector<std::string> stack;
  std::string cycle;
  std::function<bool(const std::string&)> visit = [&](const std::string& node) {
    state[node] = 1;
    stack.push_back(node);
    auto it = graph.find(node);
    if (it != graph.end()) {
      for (const std::string& next : it->second) {
        if (state[next] == 1) {
          auto from = std::find(stack.begin(), stack.end(), next);
          for (; from != stack.end(); ++from) cycle += *from + " -> ";
          cycle += next;
          return true;
        }
        if (state[next] == 0 && visit(next)) return true;
      }
    }
    stack.pop_back();
    state[node] = 2;
    return false;
  };
  for (const auto& [node, deps] : graph) {
    if (state[node] == 0 && visit(node)) return cycle;
  }
  return "";
}

TEST(EngineDependencyGraph, TheAllowedTableIsADag) {
  EXPECT_EQ(FindCycle(Allowed()), "");
  for (const auto& [folder, deps] : Allowed()) {
    for (const std::string& d : deps) EXPECT_EQ(Allowed().count(d), 1u) << folder << " -> " << d;
  }
}

TEST(EngineDependencyGraph, EveryIncludeFollowsTheTableAndTheGraphIsADag) {
  const fs::path root(BN_SOURCE_DIR);
  const auto includes = ScanEngine(root);
  ASSERT_GT(includes.size(), 50u) << "no engine sources found under " << root;
  std::map<std::string, std::set<std::string>> graph;
  for (const auto& [folder, inc] : includes) {
    const auto allowed = Allowed().find(folder);
    if (allowed == Allowed().end()) {
      ADD_FAILURE() << inc.file << ": folder engine/" << folder << " is missing from the table in "
                    << __FILE__;
      continue;
    }
    if (inc.target == folder) continue;
    if (inc.target.back() == '/') {
      ADD_FAILURE() << inc.file << ":" << inc.line << ": the engine includes " << inc.target << " ("
                    << inc.text << ")";
      continue;
    }
    graph[folder].insert(inc.target);
    if (allowed->second.count(inc.target) == 0) {
      ADD_FAILURE() << inc.file << ":" << inc.line << ": engine/" << folder
                    << " may not include engine/" << inc.target << " (" << inc.text << ")";
    }
  }
  EXPECT_EQ(FindCycle(graph), "") << "the engine's folder graph has a cycle";
}

}  // namespace
}  // namespace bn
