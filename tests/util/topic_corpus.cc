#include "tests/util/topic_corpus.h"

#include <map>
#include <random>

namespace bn::testing {

TopicCorpus MakeTopicCorpus(int documents, int topics, int words_per_topic, int length,
                            double purity, uint64_t seed) {
  static const char* const kStems[] = {"oil",   "grain", "money", "ship",  "steel",
                                       "sugar", "cocoa", "trade", "metal", "bond"};
  TopicCorpus corpus;
  for (int t = 0; t < topics; ++t) {
    for (int j = 0; j < words_per_topic; ++j) {
      corpus.vocabulary.push_back(std::string(kStems[t % 10]) + std::string(t / 10, 'x') +
                                  static_cast<char>('a' + j % 26) + std::string(j / 26, 'z'));
    }
  }
  const int vocabulary = topics * words_per_topic;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::uniform_int_distribution<int> in_topic(0, words_per_topic - 1), any(0, vocabulary - 1);
  for (int d = 0; d < documents; ++d) {
    TopicDocument doc;
    doc.topic = d % topics;
    std::map<uint32_t, float> counts;
    for (int k = 0; k < length; ++k) {
      const int id = coin(rng) < purity ? doc.topic * words_per_topic + in_topic(rng) : any(rng);
      counts[static_cast<uint32_t>(id)] += 1;
      doc.text += (k == 0 ? "" : " ") + corpus.vocabulary[id];
    }
    for (const auto& [id, c] : counts) {
      doc.ids.push_back(id);
      doc.counts.push_back(c);
    }
    corpus.documents.push_back(std::move(doc));
  }
  return corpus;
}

}  // namespace bn::testing
