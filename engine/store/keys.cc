#include "engine/store/keys.h"

namespace bn::keys {

void AppendEscaped(absl::string_view s, std::string* out) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

bool ConsumeEscaped(absl::string_view* in, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < in->size()) {
    char c = (*in)[i];
    if (c != '\0') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= in->size()) return false;
    char next = (*in)[i + 1];
    if (next == '\xff') {
      out->push_back('\0');
      i += 2;
    } else if (next == '\x01') {
      in->remove_prefix(i + 2);
      return true;
    } else {
      return false;
    }
  }
  return false;
}

void AppendU64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

bool ConsumeU64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *v = r;
  return true;
}

std::string CollectionPrefix(absl::string_view collection) {
  std::string k;
  AppendEscaped(collection, &k);
  return k;
}

std::string CollectionPrefixEnd(absl::string_view collection) {
  std::string k = CollectionPrefix(collection);
  k.back() = '\x02';  // Terminator 0x00 0x01 -> 0x00 0x02: past every key with this prefix.
  return k;
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string k(prefix);
  while (!k.empty()) {
    if (static_cast<uint8_t>(k.back()) != 0xff) {
      k.back() = static_cast<char>(static_cast<uint8_t>(k.back()) + 1);
      return k;
    }
    k.pop_back();
  }
  return k;
}

std::string CollectionSpecKey(absl::string_view collection) {
  return CollectionPrefix(collection) + "s";
}
std::string CollectionStateKey(absl::string_view collection) {
  return CollectionPrefix(collection) + "t";
}

bool ParseCollectionSpecKey(absl::string_view key, std::string* collection) {
  if (!ConsumeEscaped(&key, collection)) return false;
  return key == "s";
}

std::string ItemKeyPrefix(absl::string_view collection) {
  return CollectionPrefix(collection) + "i";
}
std::string ItemKey(absl::string_view collection, absl::string_view id) {
  std::string k = ItemKeyPrefix(collection);
  k.append(id.data(), id.size());
  return k;
}
std::string ItemNoKey(absl::string_view collection, uint64_t item_no) {
  std::string k = CollectionPrefix(collection) + "l";
  AppendU64(item_no, &k);
  return k;
}
std::string ChangeKeyPrefix(absl::string_view collection) {
  return CollectionPrefix(collection) + "c";
}
std::string ChangeKey(absl::string_view collection, uint64_t counter) {
  std::string k = ChangeKeyPrefix(collection);
  AppendU64(counter, &k);
  return k;
}

std::string CodeKeyPrefix(absl::string_view collection, uint64_t version) {
  std::string k = CollectionPrefix(collection);
  AppendU64(version, &k);
  return k;
}
std::string CodeKey(absl::string_view collection, uint64_t version, uint64_t item_no) {
  std::string k = CodeKeyPrefix(collection, version);
  AppendU64(item_no, &k);
  return k;
}

std::string ModelKey(absl::string_view collection, uint64_t version) {
  return CodeKeyPrefix(collection, version);
}

std::string DatasetKeyPrefix(absl::string_view collection, absl::string_view dataset) {
  std::string k = CollectionPrefix(collection);
  AppendEscaped(dataset, &k);
  return k;
}
std::string DatasetKey(absl::string_view collection, absl::string_view dataset, uint64_t index) {
  std::string k = DatasetKeyPrefix(collection, dataset);
  AppendU64(index, &k);
  return k;
}

std::string JobKeyPrefix(absl::string_view collection, absl::string_view job_id) {
  return DatasetKeyPrefix(collection, job_id);
}
std::string JobKey(absl::string_view collection, absl::string_view job_id) {
  return JobKeyPrefix(collection, job_id) + "j";
}
std::string JobCheckpointKey(absl::string_view collection, absl::string_view job_id) {
  return JobKeyPrefix(collection, job_id) + "k";
}

}  // namespace bn::keys
