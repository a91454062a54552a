// A small synthetic bag-of-words corpus with topics, for document tests: `topics` topics of
// `words_per_topic` words each (letters only, so the tokenizer keeps them whole: "oila",
// "oilb", ..., "graina", ...); document d has topic d % topics and `length` word occurrences,
// each from its topic's words with probability `purity`, else from the whole vocabulary.
// Deterministic for a seed.
#ifndef BOTTLENECK_TESTS_UTIL_TOPIC_CORPUS_H_
#define BOTTLENECK_TESTS_UTIL_TOPIC_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bn::testing {

struct TopicDocument {
  int topic = 0;
  std::vector<uint32_t> ids;  // Increasing word ids ...
  std::vector<float> counts;  // ... with their counts.
  std::string text;           // The same words as a text, in drawing order.
  std::string label() const { return "topic" + std::string(1, static_cast<char>('a' + topic)); }
};

struct TopicCorpus {
  std::vector<std::string> vocabulary;  // Word id i is vocabulary[i].
  std::vector<TopicDocument> documents;
};

TopicCorpus MakeTopicCorpus(int documents, int topics = 4, int words_per_topic = 10,
                            int length = 12, double purity = 0.8, uint64_t seed = 1);

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_UTIL_TOPIC_CORPUS_H_
