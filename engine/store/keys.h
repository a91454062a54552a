// Key layout of the store (schema 1). Every key of a collection, in every column family, starts
// with CollectionPrefix(collection), so deleting a collection is one DeleteRange per column family
// over [CollectionPrefix(c), CollectionPrefixEnd(c)).
//
// Encodings (all order-preserving: bytewise key order == order of the encoded values):
//   Escaped(s)  s with every 0x00 byte replaced by 0x00 0xFF, followed by the terminator 0x00 0x01.
//               Prefix-free: no escaped string is a prefix of another, and for strings a < b
//               (bytewise) Escaped(a) < Escaped(b).
//   U64(v)      8 bytes big-endian.
//
// Column family   key                                              value
//   meta          "schema_version"                                 decimal text
//                 "next_incarnation"                               U64 (collection incarnations)
//                 "alias:" <alias name>                            collection name (alias_store.h)
//   collections   P(c) 's'                                         spec bytes (service-owned)
//                 P(c) 't'                                         CollectionState (engine-owned)
//   items         P(c) 'i' <id bytes>                              U64 item number (LE) + record
//   bytes
//                 P(c) 'l' U64(item number)                              id bytes
//                 P(c) 'c' U64(change counter)                     change-log entry
//   codes         P(c) U64(model version) U64(item number)               code bytes
//   models        P(c) U64(model version)                          model blob (service-owned)
//   datasets      P(c) Escaped(dataset) U64(batch index)           example batch blob
//   jobs          P(c) Escaped(job id) 'j'                         job blob
//                 P(c) Escaped(job id) 'k'                         checkpoint blob
// where P(c) = CollectionPrefix(c) = Escaped(c).
#ifndef BOTTLENECK_ENGINE_STORE_KEYS_H_
#define BOTTLENECK_ENGINE_STORE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace bn::keys {

// Appends Escaped(s) to *out.
void AppendEscaped(absl::string_view s, std::string* out);
// Parses an escaped string at the start of *in; on success stores it in *out and advances *in
// past the terminator. Returns false on malformed input.
[[nodiscard]] bool ConsumeEscaped(absl::string_view* in, std::string* out);
void AppendU64(uint64_t v, std::string* out);
[[nodiscard]] bool ConsumeU64(absl::string_view* in, uint64_t* v);

std::string CollectionPrefix(absl::string_view collection);
// The smallest key greater than every key starting with CollectionPrefix(collection).
std::string CollectionPrefixEnd(absl::string_view collection);
// Smallest key greater than every key that starts with `prefix` ("" when none exists).
std::string PrefixEnd(absl::string_view prefix);

// collections CF.
std::string CollectionSpecKey(absl::string_view collection);
std::string CollectionStateKey(absl::string_view collection);
// Decodes the collection name from a collections-CF key; false if it is not a spec key.
[[nodiscard]] bool ParseCollectionSpecKey(absl::string_view key, std::string* collection);

// items CF.
std::string ItemKey(absl::string_view collection, absl::string_view id);
std::string ItemKeyPrefix(absl::string_view collection);
std::string ItemNoKey(absl::string_view collection, uint64_t item_no);
std::string ChangeKey(absl::string_view collection, uint64_t counter);
std::string ChangeKeyPrefix(absl::string_view collection);

// codes CF.
std::string CodeKey(absl::string_view collection, uint64_t version, uint64_t item_no);
std::string CodeKeyPrefix(absl::string_view collection, uint64_t version);

// models CF.
std::string ModelKey(absl::string_view collection, uint64_t version);

// datasets CF.
std::string DatasetKeyPrefix(absl::string_view collection, absl::string_view dataset);
std::string DatasetKey(absl::string_view collection, absl::string_view dataset, uint64_t index);

// jobs CF.
std::string JobKeyPrefix(absl::string_view collection, absl::string_view job_id);
std::string JobKey(absl::string_view collection, absl::string_view job_id);
std::string JobCheckpointKey(absl::string_view collection, absl::string_view job_id);

}  // namespace bn::keys

#endif  // BOTTLENECK_ENGINE_STORE_KEYS_H_
