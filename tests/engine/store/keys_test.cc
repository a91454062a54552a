#include "engine/store/keys.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

std::string RandomBytes(std::mt19937* rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  // Small alphabet including 0x00, 0x01, 0x02, 0xff to exercise the escaping.
  const char alphabet[] = {'\0', '\x01', '\x02', 'a', 'b', '\xfe', '\xff'};
  std::uniform_int_distribution<int> pick(0, sizeof(alphabet) - 1);
  std::string s(len(*rng), ' ');
  for (char& c : s) c = alphabet[pick(*rng)];
  return s;
}

TEST(KeysTest, EscapedRoundTripsAndPreservesOrder) {
  std::mt19937 rng(7);
  std::vector<std::string> values;
  for (int i = 0; i < 2000; ++i) values.push_back(RandomBytes(&rng, 6));
  values.push_back("");
  for (const std::string& v : values) {
    std::string enc;
    keys::AppendEscaped(v, &enc);
    enc += "tail";
    absl::string_view in(enc);
    std::string dec;
    ASSERT_TRUE(keys::ConsumeEscaped(&in, &dec));
    EXPECT_EQ(dec, v);
    EXPECT_EQ(in, "tail");
  }
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    const std::string& a = values[i];
    const std::string& b = values[i + 1];
    std::string ea, eb;
    keys::AppendEscaped(a, &ea);
    keys::AppendEscaped(b, &eb);
    EXPECT_EQ(a < b, ea < eb) << i;
    EXPECT_EQ(a == b, ea == eb);
    // Prefix-free: distinct encodings are never prefixes of one another.
    if (a != b) {
      EXPECT_NE(eb.compare(0, ea.size(), ea), 0);
    }
  }
}

TEST(KeysTest, MalformedEscapedIsRejected) {
  std::string out;
  absl::string_view unterminated("abc");
  EXPECT_FALSE(keys::ConsumeEscaped(&unterminated, &out));
  absl::string_view bad_escape("a\0\x05", 3);
  EXPECT_FALSE(keys::ConsumeEscaped(&bad_escape, &out));
}

TEST(KeysTest, U64RoundTripsAndPreservesOrder) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> values = {0, 1, 255, 256, ~uint64_t{0}};
  for (int i = 0; i < 1000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t a : values) {
    std::string ea;
    keys::AppendU64(a, &ea);
    absl::string_view in(ea);
    uint64_t back = 0;
    ASSERT_TRUE(keys::ConsumeU64(&in, &back));
    EXPECT_EQ(back, a);
    for (uint64_t b : {values[0], values[7], values[100]}) {
      std::string eb;
      keys::AppendU64(b, &eb);
      EXPECT_EQ(a < b, ea < eb);
    }
  }
}

TEST(KeysTest, CollectionRangeContainsExactlyItsKeys) {
  std::mt19937 rng(11);
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back(RandomBytes(&rng, 4));
  for (const std::string& c : names) {
    const std::string begin = keys::CollectionPrefix(c);
    const std::string end = keys::CollectionPrefixEnd(c);
    for (const std::string& other : names) {
      std::vector<std::string> ks = {
          keys::CollectionSpecKey(other),       keys::ItemKey(other, "\xff\xff"),
          keys::ItemNoKey(other, ~uint64_t{0}), keys::CodeKey(other, 0, 0),
          keys::DatasetKey(other, "\xff", 5),   keys::JobCheckpointKey(other, "")};
      for (const std::string& k : ks) {
        const bool inside = k >= begin && k < end;
        EXPECT_EQ(inside, c == other) << "collection " << c.size() << " other " << other.size();
      }
    }
  }
}

TEST(KeysTest, ItemAndCodeKeysSortByIdAndLabel) {
  EXPECT_LT(keys::ItemKey("c", "a"), keys::ItemKey("c", "ab"));
  EXPECT_LT(keys::ItemKey("c", "ab"), keys::ItemKey("c", "b"));
  EXPECT_LT(keys::CodeKey("c", 1, 2), keys::CodeKey("c", 1, 10));
  EXPECT_LT(keys::CodeKey("c", 1, ~uint64_t{0}), keys::CodeKey("c", 2, 0));
  EXPECT_LT(keys::ChangeKey("c", 9), keys::ChangeKey("c", 10));
  std::string name;
  ASSERT_TRUE(keys::ParseCollectionSpecKey(keys::CollectionSpecKey(std::string("x\0y", 3)), &name));
  EXPECT_EQ(name, std::string("x\0y", 3));
  EXPECT_FALSE(keys::ParseCollectionSpecKey(keys::CollectionStateKey("x"), &name));
  EXPECT_EQ(keys::PrefixEnd("a\xff"), "b");
  EXPECT_EQ(keys::PrefixEnd("\xff\xff"), "");
}

}  // namespace
}  // namespace bn
