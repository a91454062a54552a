#include "engine/data/reuters.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <new>
#include <sstream>

#include "engine/data/json.h"
#include "engine/util/atomic_file.h"

namespace bn {
namespace {

struct SplitRow {
  ReutersSplit split;
  std::vector<std::string> topics;
};

std::vector<std::string> SplitOn(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

// The ModApte rows of the split file, by id.
absl::StatusOr<std::map<int64_t, SplitRow>> ReadSplit(const std::string& path,
                                                      bool unlabelled_training_text) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::map<int64_t, SplitRow> rows;
  std::istringstream in(*text);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line.rfind("newid\t", 0) != 0) return absl::DataLossError(path + ": bad header");
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> f = SplitOn(line, '\t');
    if (f.size() != 5) {
      return absl::DataLossError(path + ":" + std::to_string(line_no) + ": expected 5 fields");
    }
    char* end = nullptr;
    const long long id = std::strtoll(f[0].c_str(), &end, 10);
    if (end == f[0].c_str() || *end != '\0' || id < 1) {
      return absl::DataLossError(path + ":" + std::to_string(line_no) + ": bad id");
    }
    SplitRow row;
    const bool mod_apte = f[2] == "YES" && (f[1] == "TRAIN" || f[1] == "TEST");
    if (mod_apte) {
      row.split = f[1] == "TRAIN" ? ReutersSplit::kTrain : ReutersSplit::kTest;
      std::istringstream topics(f[4]);
      std::string t;
      while (topics >> t) row.topics.push_back(t);
    }
    if (!row.topics.empty()) {
      rows[id] = std::move(row);
    } else if (unlabelled_training_text && f[1] != "TEST") {
      row.split = ReutersSplit::kTrain;
      rows[id] = std::move(row);  // Unlabelled training text.
    }
  }
  return rows;
}

std::string StringMember(const JsonValue& doc, const char* key) {
  const JsonValue* v = doc.Find(key);
  return v != nullptr && v->type == JsonValue::Type::kString ? v->string : std::string();
}

}  // namespace

absl::StatusOr<std::vector<ReutersDocument>> LoadReutersModApte(const std::string& package_dir,
                                                                const std::string& split_tsv,
                                                                const ReutersOptions& options) {
  try {
    absl::StatusOr<std::map<int64_t, SplitRow>> split =
        ReadSplit(split_tsv, options.unlabelled_training_text);
    if (!split.ok()) return split.status();
    const std::string dir = package_dir + "/data/full";
    std::vector<std::string> files;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
          files.push_back(dir + "/" + name);
        }
      }
      closedir(d);
    } else {
      return absl::NotFoundError("no Reuters-21578 JSON directory " + dir);
    }
    if (files.empty()) return absl::NotFoundError("no JSON files in " + dir);
    std::sort(files.begin(), files.end());
    std::map<int64_t, ReutersDocument> found;
    for (const std::string& file : files) {
      absl::StatusOr<std::string> text = ReadFileToString(file);
      if (!text.ok()) return text.status();
      absl::StatusOr<JsonValue> json = ParseJson(*text);
      if (!json.ok()) {
        return absl::DataLossError(file + ": " + std::string(json.status().message()));
      }
      if (json->type != JsonValue::Type::kArray) {
        return absl::DataLossError(file + ": expected an array of documents");
      }
      for (const JsonValue& doc : json->array) {
        const std::string id_text = StringMember(doc, "id");
        char* end = nullptr;
        const long long id = std::strtoll(id_text.c_str(), &end, 10);
        if (id_text.empty() || *end != '\0') {
          return absl::DataLossError(file + ": document without a valid id");
        }
        auto row = split->find(id);
        if (row == split->end()) continue;
        if (options.single_topic_only && row->second.topics.size() > 1) continue;
        ReutersDocument d;
        d.id = id;
        d.title = StringMember(doc, "title");
        d.body = StringMember(doc, "body");
        d.topics = row->second.topics;
        d.split = row->second.split;
        found[id] = std::move(d);
      }
    }
    std::vector<ReutersDocument> out;
    out.reserve(found.size());
    for (const auto& [id, row] : *split) {
      if (options.single_topic_only && row.topics.size() > 1) continue;
      auto it = found.find(id);
      if (it == found.end()) {
        return absl::DataLossError("Reuters document " + std::to_string(id) +
                                   " of the split file is missing from the JSON files");
      }
      out.push_back(std::move(it->second));
    }
    return out;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("Reuters: out of memory");
  }
}

TopicLabels FirstTopicLabels(const std::vector<ReutersDocument>& docs) {
  TopicLabels out;
  for (const ReutersDocument& d : docs) {
    if (!d.topics.empty()) out.names.push_back(d.topics[0]);
  }
  std::sort(out.names.begin(), out.names.end());
  out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
  for (const ReutersDocument& d : docs) {
    if (d.topics.empty()) {
      out.labels.push_back(-1);
      continue;
    }
    out.labels.push_back(static_cast<int>(
        std::lower_bound(out.names.begin(), out.names.end(), d.topics[0]) - out.names.begin()));
  }
  return out;
}

}  // namespace bn
