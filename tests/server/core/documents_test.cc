// Document collections in process: where a model version's vocabulary comes from (the dataset,
// the collection, learned, id-only), the rules for mixing kinds of documents, skipped examples,
// document lengths for the trainer, text clean-up options and binary codes.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "engine/train/progress.h"
#include "server/core/dataset_catalog.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/text_pipeline.h"
#include "server/core/trainer.h"
#include "tests/server/core/core_fixture.h"
#include "tests/util/topic_corpus.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

constexpr int kTopics = 4;
constexpr int kWordsPerTopic = 10;
constexpr int kV = kTopics * kWordsPerTopic;

v1::Example IdsExample(const TopicDocument& d) {
  v1::Example e;
  v1::SparseCounts* ids = e.mutable_input()->mutable_document()->mutable_word_ids();
  *ids->mutable_ids() = {d.ids.begin(), d.ids.end()};
  *ids->mutable_counts() = {d.counts.begin(), d.counts.end()};
  e.set_label(d.label());
  return e;
}

v1::Example TextExample(const std::string& text, const std::string& label = "") {
  v1::Example e;
  e.mutable_input()->mutable_document()->set_text(text);
  e.set_label(label);
  return e;
}

v1::Example WordsExample(const TopicDocument& d, const std::vector<std::string>& vocabulary) {
  v1::Example e;
  for (size_t i = 0; i < d.ids.size(); ++i) {
    v1::WordCount* w = e.mutable_input()->mutable_document()->mutable_words()->add_counts();
    w->set_word(vocabulary[d.ids[i]]);
    w->set_count(d.counts[i]);
  }
  e.set_label(d.label());
  return e;
}

std::vector<v1::Example> IdsExamples(const TopicCorpus& corpus) {
  std::vector<v1::Example> out;
  for (const TopicDocument& d : corpus.documents) out.push_back(IdsExample(d));
  return out;
}

class DocumentsTest : public CoreFixture {
 protected:
  absl::Status CreateDocs(const std::string& name, const std::vector<std::string>& words = {},
                          v1::CodeKind kind = v1::CODE_KIND_FLOAT) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    v1::DocumentGeometry* g = request.mutable_spec()->mutable_document();
    g->set_vocabulary_size(kV);
    g->set_allow_raw_text(true);
    *g->mutable_vocabulary_words() = {words.begin(), words.end()};
    request.mutable_spec()->set_code_kind(kind);
    return core().collections().Create(request).status();
  }

  // One upload stream: the first message carries the vocabulary and skip_invalid, then the
  // examples in messages of 50.
  absl::StatusOr<v1::Dataset> UploadExamples(const std::string& collection,
                                             const std::string& dataset,
                                             const std::vector<v1::Example>& examples,
                                             const std::vector<std::string>& vocabulary = {},
                                             bool skip_invalid = false) {
    auto upload = core().datasets().BeginUpload();
    v1::UploadDatasetRequest message;
    message.set_collection(collection);
    message.set_dataset(dataset);
    *message.mutable_vocabulary_words() = {vocabulary.begin(), vocabulary.end()};
    message.set_skip_invalid(skip_invalid);
    for (size_t i = 0; i < examples.size(); ++i) {
      *message.add_examples() = examples[i];
      if (message.examples_size() == 50 || i + 1 == examples.size()) {
        if (absl::Status s = upload->Append(message); !s.ok()) return s;
        message.Clear();
      }
    }
    if (examples.empty()) {
      if (absl::Status s = upload->Append(message); !s.ok()) return s;
    }
    return upload->Commit();
  }

  // The dataset as a training job of `spec` would read it.
  absl::Status LoadDataset(const std::string& collection, const std::string& dataset,
                           const v1::ModelSpec& spec, LabelledMatrix* all,
                           std::unique_ptr<TextPipeline>* text) {
    v1::Job job;
    job.set_collection(collection);
    job.set_dataset(dataset);
    *job.mutable_spec() = spec;
    auto described = core().collections().Describe(collection);
    if (!described.ok()) return described.status();
    CancellationFlag cancel;
    return core().datasets().Load(job, described->spec(), cancel, all, text);
  }

  // A small pre-trained dense auto-encoder (replicated-softmax first RBM).
  static v1::ModelSpec DenseSpec(int code_size) {
    v1::ModelSpec spec;
    v1::DenseAutoencoderSpec* d = spec.mutable_dense();
    d->add_encoder_sizes(24);
    d->set_code_size(code_size);
    d->set_hidden_activation(v1::ACTIVATION_LOGISTIC);
    d->mutable_pretraining()->set_enabled(true);
    d->mutable_pretraining()->set_epochs_per_layer(5);
    spec.mutable_training()->set_epochs(30);
    spec.mutable_training()->set_batch_size(32);
    spec.mutable_training()->set_learning_rate(0.01f);
    spec.mutable_training()->set_seed(7);
    return spec;
  }

  v1::Model ServingModel(const std::string& collection, const v1::Job& job) {
    auto model = core().collections().GetModel(collection, job.model_version());
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : v1::Model();
  }

  v1::Input TopicQuery(const TopicCorpus& corpus, int topic) {
    std::string text = "Which documents are about";
    for (int j = 0; j < kWordsPerTopic; ++j) text += " " + corpus.vocabulary[topic * 10 + j];
    return TextExample(text).input();
  }
};

TEST_F(DocumentsTest, TrainsOnWordIdsWithTheDatasetVocabularyThenSearchesAndDecodesWords) {
  const TopicCorpus corpus = MakeTopicCorpus(240, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  std::vector<std::string> vocabulary = corpus.vocabulary;
  vocabulary[0][0] = 'O';  // Stored in lower case, as the tokenizer lower-cases.
  auto dataset = UploadExamples("docs", "train", IdsExamples(corpus), vocabulary);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->example_count(), 240u);
  EXPECT_EQ(dataset->vocabulary_word_count(), static_cast<uint32_t>(kV));

  const v1::Job job = Train("docs", "train", DenseSpec(4), /*promote=*/true);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  WaitServing("docs", job.model_version());
  const v1::Model model = ServingModel("docs", job);
  EXPECT_EQ(model.vocabulary_source(), v1::VOCABULARY_SOURCE_DATASET);
  EXPECT_EQ(model.vocabulary_word_count(), static_cast<uint32_t>(kV));
  EXPECT_GT(model.report().precision_at_10(), 0);

  // Index other documents of the same topics (as word ids), then query by text.
  const TopicCorpus items = MakeTopicCorpus(80, kTopics, kWordsPerTopic, 12, 0.8, 2);
  v1::UpsertRequest upsert;
  upsert.set_collection("docs");
  for (size_t i = 0; i < items.documents.size(); ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("item-" + std::to_string(i));
    *item->mutable_input() = IdsExample(items.documents[i]).input();
    item->set_label(items.documents[i].label());
  }
  ASSERT_TRUE(core().ingest().Upsert(upsert).ok());
  for (int topic = 0; topic < kTopics; ++topic) {
    v1::SearchRequest search;
    search.set_collection("docs");
    *search.mutable_input() = TopicQuery(corpus, topic);
    search.set_k(10);
    search.set_exact(true);
    auto found = core().queries().Search(search);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->neighbors_size(), 10);
    int same = 0;
    for (const auto& n : found->neighbors()) same += n.label() == items.documents[topic].label();
    EXPECT_GE(same, 6) << "topic " << topic;

    // The decoder's top words for the query's code are words of the query's topic.
    v1::DecodeRequest decode;
    decode.set_collection("docs");
    *decode.add_codes() = found->query_code();
    decode.set_top_words(5);
    auto decoded = core().queries().Decode(decode);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    int topical = 0;
    for (const auto& w : decoded->outputs(0).words().words()) {
      EXPECT_EQ(w.word(), corpus.vocabulary[w.id()]);
      topical += static_cast<int>(w.id()) / kWordsPerTopic == topic;
    }
    EXPECT_GE(topical, 3) << decoded->ShortDebugString();
  }
  // A document's text and its word ids encode to the same code.
  v1::EncodeRequest encode;
  encode.set_collection("docs");
  *encode.add_inputs() = TextExample(items.documents[5].text).input();
  *encode.add_inputs() = IdsExample(items.documents[5]).input();
  auto codes = core().queries().Encode(encode);
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ(codes->codes(0).SerializeAsString(), codes->codes(1).SerializeAsString());
}

TEST_F(DocumentsTest, TextsAndTheirWordIdsGiveIdenticalInputVectorsAndLengths) {
  const TopicCorpus corpus = MakeTopicCorpus(100, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  // Texts as a person writes them: capitals, punctuation, stop words.
  std::vector<v1::Example> texts;
  for (const TopicDocument& d : corpus.documents) {
    std::string text = "The";
    size_t start = 0;
    int k = 0;
    while (start < d.text.size()) {
      size_t end = d.text.find(' ', start);
      if (end == std::string::npos) end = d.text.size();
      std::string word = d.text.substr(start, end - start);
      if (k++ % 3 == 0) std::transform(word.begin(), word.end(), word.begin(), ::toupper);
      text += " " + word + (k % 4 == 0 ? ", and the" : "");
      start = end + 1;
    }
    texts.push_back(TextExample(text + ".", d.label()));
  }
  ASSERT_TRUE(UploadExamples("docs", "texts", texts).ok());
  LabelledMatrix from_text;
  std::unique_ptr<TextPipeline> learned;
  ASSERT_TRUE(LoadDataset("docs", "texts", DenseSpec(4), &from_text, &learned).ok());
  ASSERT_EQ(learned->vocabulary_size(), static_cast<uint32_t>(kV));
  EXPECT_EQ(learned->source(), v1::VOCABULARY_SOURCE_LEARNED);
  // The learned words in id order (ranked by document frequency, not in the corpus' order).
  std::vector<float> rank(kV);
  for (int i = 0; i < kV; ++i) rank[i] = static_cast<float>(kV - i);
  std::vector<std::string> words;
  std::map<std::string, uint32_t> id_of;
  const v1::WordDistribution ranked = learned->TopWords(rank.data(), kV);
  for (const auto& w : ranked.words()) {
    id_of[w.word()] = static_cast<uint32_t>(words.size());
    words.push_back(w.word());
  }
  // The same documents as word ids over the learned vocabulary.
  std::vector<v1::Example> ids;
  for (const TopicDocument& d : corpus.documents) {
    std::map<uint32_t, float> counts;
    for (size_t i = 0; i < d.ids.size(); ++i)
      counts[id_of.at(corpus.vocabulary[d.ids[i]])] += d.counts[i];
    TopicDocument mapped = d;
    mapped.ids.clear();
    mapped.counts.clear();
    for (const auto& [id, c] : counts) {
      mapped.ids.push_back(id);
      mapped.counts.push_back(c);
    }
    ids.push_back(IdsExample(mapped));
  }
  ASSERT_TRUE(UploadExamples("docs", "ids", ids, words).ok());
  LabelledMatrix from_ids;
  std::unique_ptr<TextPipeline> supplied;
  ASSERT_TRUE(LoadDataset("docs", "ids", DenseSpec(4), &from_ids, &supplied).ok());
  EXPECT_EQ(supplied->source(), v1::VOCABULARY_SOURCE_DATASET);
  ASSERT_EQ(from_ids.x.rows, 100);
  EXPECT_EQ(from_ids.x.cols, from_text.x.cols);
  EXPECT_EQ(from_ids.x.data, from_text.x.data);
  EXPECT_EQ(from_ids.lengths, from_text.lengths);
  EXPECT_EQ(from_ids.labels, from_text.labels);
  // tf-idf too: the document frequencies counted for the supplied words are the learned ones.
  v1::ModelSpec tfidf = DenseSpec(4);
  tfidf.mutable_text()->set_representation(v1::DOCUMENT_REPRESENTATION_TF_IDF);
  LabelledMatrix a, b;
  ASSERT_TRUE(LoadDataset("docs", "texts", tfidf, &a, &learned).ok());
  ASSERT_TRUE(LoadDataset("docs", "ids", tfidf, &b, &supplied).ok());
  EXPECT_EQ(a.x.data, b.x.data);
}

TEST_F(DocumentsTest, WordIdsAloneGiveAnIdOnlyModel) {
  const TopicCorpus corpus = MakeTopicCorpus(60, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  ASSERT_TRUE(UploadExamples("docs", "train", IdsExamples(corpus)).ok());
  const v1::Job job = Train("docs", "train", PcaSpec(4), /*promote=*/true);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  WaitServing("docs", job.model_version());
  EXPECT_EQ(ServingModel("docs", job).vocabulary_source(), v1::VOCABULARY_SOURCE_WORD_IDS);

  v1::EncodeRequest encode;
  encode.set_collection("docs");
  *encode.add_inputs() = IdsExample(corpus.documents[0]).input();
  auto code = core().queries().Encode(encode);
  ASSERT_TRUE(code.ok()) << code.status();
  v1::DecodeRequest decode;
  decode.set_collection("docs");
  *decode.add_codes() = code->codes(0);
  decode.set_top_words(kV);
  auto decoded = core().queries().Decode(decode);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->outputs(0).words().words_size(), kV);
  std::vector<bool> seen(kV);
  for (const auto& w : decoded->outputs(0).words().words()) {
    EXPECT_EQ(w.word(), "");
    ASSERT_LT(w.id(), static_cast<uint32_t>(kV));
    seen[w.id()] = true;
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool s) { return s; }));

  // Texts and words mean nothing to it: refused, naming the fix.
  v1::SearchRequest search;
  search.set_collection("docs");
  *search.mutable_input() = TopicQuery(corpus, 1);
  auto by_text = core().queries().Search(search);
  EXPECT_EQ(by_text.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(by_text.status().message().find("vocabulary_words"), absl::string_view::npos)
      << by_text.status();
  encode.clear_inputs();
  *encode.add_inputs() = WordsExample(corpus.documents[0], corpus.vocabulary).input();
  EXPECT_EQ(core().queries().Encode(encode).status().code(), StatusCode::kFailedPrecondition);
  v1::UpsertRequest upsert;
  upsert.set_collection("docs");
  upsert.add_items()->set_id("t");
  *upsert.mutable_items(0)->mutable_input() = TopicQuery(corpus, 0);
  EXPECT_EQ(core().ingest().Upsert(upsert).status().code(), StatusCode::kFailedPrecondition);
  *search.mutable_input() = IdsExample(corpus.documents[1]).input();
  EXPECT_TRUE(core().queries().Search(search).ok());
}

TEST_F(DocumentsTest, WordsDocumentsLearnTheVocabularyLikeTexts) {
  const TopicCorpus corpus = MakeTopicCorpus(80, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  std::vector<v1::Example> words, texts;
  for (const TopicDocument& d : corpus.documents) {
    words.push_back(WordsExample(d, corpus.vocabulary));
    texts.push_back(TextExample(d.text, d.label()));
  }
  ASSERT_TRUE(UploadExamples("docs", "words", words).ok());
  ASSERT_TRUE(UploadExamples("docs", "texts", texts).ok());
  LabelledMatrix a, b;
  std::unique_ptr<TextPipeline> from_words, from_texts;
  ASSERT_TRUE(LoadDataset("docs", "words", PcaSpec(4), &a, &from_words).ok());
  ASSERT_TRUE(LoadDataset("docs", "texts", PcaSpec(4), &b, &from_texts).ok());
  EXPECT_EQ(from_words->source(), v1::VOCABULARY_SOURCE_LEARNED);
  EXPECT_EQ(from_words->Serialize(), from_texts->Serialize());
  EXPECT_EQ(a.x.data, b.x.data);
}

TEST_F(DocumentsTest, MixingWordIdsWithTextsNeedsAVocabulary) {
  const TopicCorpus corpus = MakeTopicCorpus(4, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  const std::vector<v1::Example> mixed = {IdsExample(corpus.documents[0]),
                                          TextExample(corpus.documents[1].text),
                                          IdsExample(corpus.documents[2])};
  auto refused = UploadExamples("docs", "mixed", mixed);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("examples[1]"), absl::string_view::npos);
  EXPECT_NE(refused.status().message().find("vocabulary_words"), absl::string_view::npos)
      << refused.status();
  EXPECT_EQ(core().datasets().List("docs")->datasets_size(), 0);  // Nothing stored.
  // Words before ids are refused the same way; texts with words are fine.
  EXPECT_FALSE(UploadExamples("docs", "mixed",
                              {WordsExample(corpus.documents[0], corpus.vocabulary),
                               IdsExample(corpus.documents[1])})
                   .ok());
  EXPECT_TRUE(UploadExamples("docs", "texts_and_words",
                             {TextExample(corpus.documents[0].text),
                              WordsExample(corpus.documents[1], corpus.vocabulary)})
                  .ok());
  // With skip_invalid, the examples that would mix are left out.
  auto skipped = UploadExamples("docs", "skipped", mixed, {}, /*skip_invalid=*/true);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->example_count(), 2u);
  ASSERT_EQ(skipped->skipped_size(), 1);
  EXPECT_EQ(skipped->skipped(0).index(), 1u);
  // With a vocabulary (the dataset's or the collection's) every kind maps onto it.
  const std::vector<v1::Example> all_kinds = {
      IdsExample(corpus.documents[0]), TextExample(corpus.documents[1].text),
      WordsExample(corpus.documents[2], corpus.vocabulary), IdsExample(corpus.documents[3])};
  ASSERT_TRUE(UploadExamples("docs", "with_vocabulary", all_kinds, corpus.vocabulary).ok());
  ASSERT_TRUE(CreateDocs("docs2", corpus.vocabulary).ok());
  ASSERT_TRUE(UploadExamples("docs2", "all", all_kinds).ok());
  for (const auto& [collection, dataset] :
       {std::pair<std::string, std::string>{"docs", "with_vocabulary"}, {"docs2", "all"}}) {
    LabelledMatrix m;
    std::unique_ptr<TextPipeline> text;
    ASSERT_TRUE(LoadDataset(collection, dataset, PcaSpec(2), &m, &text).ok());
    EXPECT_EQ(m.x.rows, 4);
    EXPECT_EQ(text->source(), collection == "docs" ? v1::VOCABULARY_SOURCE_DATASET
                                                   : v1::VOCABULARY_SOURCE_COLLECTION);
    // Each document's row is its counts over the corpus' own ids.
    for (int r = 0; r < 4; ++r) {
      const TopicDocument& d = corpus.documents[r];
      double n = 0;
      for (float c : d.counts) n += c;
      for (size_t i = 0; i < d.ids.size(); ++i) {
        EXPECT_FLOAT_EQ(m.x.at(r, d.ids[i]), static_cast<float>(d.counts[i] / n));
      }
      EXPECT_FLOAT_EQ(m.lengths[r], static_cast<float>(n));
    }
  }
}

TEST_F(DocumentsTest, SkipInvalidLeavesBadExamplesOutAndReportsTheFirstTen) {
  const TopicCorpus corpus = MakeTopicCorpus(25, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs").ok());
  std::vector<v1::Example> examples;
  std::vector<uint64_t> bad;
  for (int i = 0; i < 25; ++i) {
    v1::Example e = TextExample(corpus.documents[i].text);
    if (i % 2 == 1) {
      bad.push_back(i);
      switch (i % 3) {
        case 0:
          e = TextExample("caf\xE9 au lait");  // Latin-1, not UTF-8.
          break;
        case 1:
          e = TextExample(" \n\t");
          break;
        default:
          e.set_label(std::string(300, 'l'));
      }
    }
    examples.push_back(e);
  }
  auto all_or_nothing = UploadExamples("docs", "d", examples);
  EXPECT_EQ(all_or_nothing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(all_or_nothing.status().message().find("examples[1]: empty document"),
            absl::string_view::npos)
      << all_or_nothing.status();
  auto dataset = UploadExamples("docs", "d", examples, {}, /*skip_invalid=*/true);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->example_count(), 25u - bad.size());
  EXPECT_EQ(dataset->skipped_count(), bad.size());
  ASSERT_EQ(dataset->skipped_size(), DatasetCatalog::kSkippedReasons);
  for (int k = 0; k < DatasetCatalog::kSkippedReasons; ++k) {
    EXPECT_EQ(dataset->skipped(k).index(), bad[k]);
    EXPECT_EQ(dataset->skipped(k).reason().find("examples[" + std::to_string(bad[k]) + "]: "), 0u);
  }
  EXPECT_NE(dataset->skipped(1).reason().find("invalid UTF-8 at byte offset 3"), std::string::npos)
      << dataset->skipped(1).reason();
  EXPECT_NE(dataset->skipped(2).reason().find("label must be at most 256 bytes"),
            std::string::npos);
  EXPECT_EQ(core().datasets().Get("docs", "d")->skipped_count(), bad.size());
  // Nothing valid at all: refused, naming the first reason.
  auto none = UploadExamples("docs", "none", {TextExample(" ")}, {}, true);
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("examples[0]: empty document"), absl::string_view::npos);
  // A word id outside the vocabulary is named with the vocabulary's range.
  v1::Example outside = IdsExample(corpus.documents[0]);
  outside.mutable_input()->mutable_document()->mutable_word_ids()->set_ids(0, kV);
  auto refused = UploadExamples("docs", "ids", {IdsExample(corpus.documents[1]), outside});
  EXPECT_NE(refused.status().message().find(
                "examples[1]: word_ids.ids[0] = 40 is outside the vocabulary (ids 0..39)"),
            absl::string_view::npos)
      << refused.status();
}

TEST_F(DocumentsTest, LoadGivesEachKeptRowItsCountedWords) {
  // The collection knows the first 20 words only: other words do not count, and a document
  // with none of its words is left out (no row, no length).
  const TopicCorpus corpus = MakeTopicCorpus(30, kTopics, kWordsPerTopic);
  std::vector<std::string> known(corpus.vocabulary.begin(), corpus.vocabulary.begin() + 20);
  v1::CreateCollectionRequest request;
  request.set_name("docs");
  request.mutable_spec()->mutable_document()->set_allow_raw_text(true);
  *request.mutable_spec()->mutable_document()->mutable_vocabulary_words() = {known.begin(),
                                                                             known.end()};
  auto created = core().collections().Create(request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->spec().document().vocabulary_size(), 20u);  // From the words.
  std::vector<v1::Example> texts;
  std::vector<float> expected;
  for (const TopicDocument& d : corpus.documents) {
    texts.push_back(TextExample(d.text));
    float n = 0;
    for (size_t i = 0; i < d.ids.size(); ++i) n += d.ids[i] < 20 ? d.counts[i] : 0;
    if (n > 0) expected.push_back(n);
  }
  texts.push_back(TextExample("none of these words are known"));
  ASSERT_TRUE(UploadExamples("docs", "texts", texts).ok());
  LabelledMatrix all;
  std::unique_ptr<TextPipeline> text;
  ASSERT_TRUE(LoadDataset("docs", "texts", DenseSpec(4), &all, &text).ok());
  EXPECT_EQ(all.x.rows, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(all.lengths, expected);
  // Split keeps each row's length with it.
  LabelledMatrix train, validation;
  ASSERT_TRUE(SplitForValidation(all, 0.25, 3, &train, &validation).ok());
  ASSERT_EQ(train.lengths.size(), static_cast<size_t>(train.x.rows));
  ASSERT_EQ(validation.lengths.size(), static_cast<size_t>(validation.x.rows));
  std::vector<float> both = train.lengths;
  both.insert(both.end(), validation.lengths.begin(), validation.lengths.end());
  std::sort(both.begin(), both.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(both, expected);
}

TEST_F(DocumentsTest, TrainAndEvaluateGivesTheLengthsToASoftmaxModel) {
  const TopicCorpus corpus = MakeTopicCorpus(60, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("docs", corpus.vocabulary).ok());
  ASSERT_TRUE(UploadExamples("docs", "train", IdsExamples(corpus)).ok());
  auto described = core().collections().Describe("docs");
  ASSERT_TRUE(described.ok());
  v1::ModelSpec spec = DenseSpec(4);
  spec.mutable_training()->set_epochs(1);
  ASSERT_TRUE(NormalizeModelSpec(described->spec(), &spec).ok());
  LabelledMatrix all, train;
  ValidationData validation;
  std::unique_ptr<TextPipeline> text;
  ASSERT_TRUE(LoadDataset("docs", "train", spec, &all, &text).ok());
  ASSERT_TRUE(SplitForValidation(all, 0.2, 1, &train, &validation.validation).ok());
  CancellationFlag cancel;
  ASSERT_TRUE(TrainAndEvaluate(described->spec(), spec, train, validation, {}, cancel).ok());
  // The engine refuses a length that is not positive: a zero proves the lengths reach it.
  train.lengths[3] = 0;
  auto refused = TrainAndEvaluate(described->spec(), spec, train, validation, {}, cancel);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("document lengths"), absl::string_view::npos)
      << refused.status();
  // A linear output (tf-idf) has no replicated softmax: no lengths are passed.
  spec.mutable_text()->set_representation(v1::DOCUMENT_REPRESENTATION_TF_IDF);
  spec.mutable_dense()->mutable_pretraining()->set_enabled(false);
  EXPECT_TRUE(TrainAndEvaluate(described->spec(), spec, train, validation, {}, cancel).ok());
}

TEST_F(DocumentsTest, BadVocabulariesAreRefusedPreciselyAndChangeNothing) {
  const TopicCorpus corpus = MakeTopicCorpus(4, kTopics, kWordsPerTopic);
  std::vector<std::string> duplicate = corpus.vocabulary;
  duplicate[7] = "OILA";  // corpus.vocabulary[0] is "oila".
  std::vector<std::string> short_list(corpus.vocabulary.begin(), corpus.vocabulary.end() - 1);
  std::vector<std::string> empty_word = corpus.vocabulary;
  empty_word[12] = "";
  std::vector<std::string> latin1 = corpus.vocabulary;
  latin1[3] = "caf\xE9";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {duplicate, "[7] (line 8) \"oila\" repeats [0] (line 1) after lower-casing"},
      {short_list, "has 39 words; the collection's vocabulary_size is 40"},
      {empty_word, "[12] (line 13) is empty"},
      {latin1, "[3] (line 4) is not valid UTF-8"},
  };
  for (const auto& [words, message] : cases) {
    absl::Status s = CreateDocs("bad", words);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << message;
    EXPECT_NE(s.message().find("spec.document.vocabulary_words"), absl::string_view::npos) << s;
    EXPECT_NE(s.message().find(message), absl::string_view::npos) << s;
  }
  EXPECT_EQ(core().collections().List()->collections_size(), 0);

  ASSERT_TRUE(CreateDocs("docs").ok());
  const std::vector<v1::Example> examples = IdsExamples(corpus);
  for (const auto& [words, message] : cases) {
    auto uploaded = UploadExamples("docs", "d", examples, words);
    EXPECT_EQ(uploaded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(uploaded.status().message().find(message), absl::string_view::npos)
        << uploaded.status();
  }
  // A vocabulary after the first message, or for images, is refused too.
  {
    auto upload = core().datasets().BeginUpload();
    v1::UploadDatasetRequest message;
    message.set_collection("docs");
    message.set_dataset("d");
    *message.add_examples() = examples[0];
    ASSERT_TRUE(upload->Append(message).ok());
    *message.mutable_vocabulary_words() = {corpus.vocabulary.begin(), corpus.vocabulary.end()};
    absl::Status late = upload->Append(message);
    EXPECT_EQ(late.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(late.message().find("first message"), absl::string_view::npos) << late;
  }
  CreateImages("imgs");
  v1::UploadDatasetRequest images;
  images.set_collection("imgs");
  images.set_dataset("d");
  images.add_vocabulary_words("oil");
  *images.add_examples()->mutable_input() = ImageInput(0, 0);
  EXPECT_EQ(core().datasets().BeginUpload()->Append(images).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(core().datasets().List("docs")->datasets_size(), 0);
  EXPECT_EQ(core().datasets().List("imgs")->datasets_size(), 0);
}

TEST_F(DocumentsTest, MailIsCleanedByDefaultAndTextOptionsTurnItOff) {
  ASSERT_TRUE(CreateDocs("docs").ok());
  std::vector<v1::Example> mails;
  for (int i = 0; i < 6; ++i) {
    mails.push_back(TextExample(
        "From: trader" + std::string(1, static_cast<char>('a' + i)) +
        "@example.com\nSubject: Crude oil\nOrganization: Exchange\n\n> quoted earlier words\n"
        "<p>Crude &amp; heating oil prices rose.</p><br/>\n"
        "QmFzZTY0IGVuY29kZWQgYXR0YWNobWVudCBkYXRhIGdvZXMgaGVyZQ==\n"));
  }
  ASSERT_TRUE(UploadExamples("docs", "mail", mails).ok());
  auto learned_words = [&](const v1::ModelSpec& spec) {
    LabelledMatrix all;
    std::unique_ptr<TextPipeline> text;
    EXPECT_TRUE(LoadDataset("docs", "mail", spec, &all, &text).ok());
    std::vector<float> x(text->vocabulary_size(), 1.0f);
    std::vector<std::string> words;
    const v1::WordDistribution top = text->TopWords(x.data(), text->vocabulary_size());
    for (const auto& w : top.words()) {
      words.push_back(w.word());
    }
    std::sort(words.begin(), words.end());
    return words;
  };
  v1::ModelSpec spec = PcaSpec(2);
  EXPECT_EQ(learned_words(spec),
            (std::vector<std::string>{"crude", "heating", "oil", "prices", "rose"}));
  spec.mutable_text()->set_keep_headers(true);
  spec.mutable_text()->set_keep_quoted_lines(true);
  spec.mutable_text()->set_keep_markup(true);
  spec.mutable_text()->set_keep_encoded_blocks(true);
  spec.mutable_text()->set_max_word_length(1000);
  const std::vector<std::string> kept = learned_words(spec);
  for (const char* word : {"organization", "exchange", "quoted", "amp", "br", "subject"}) {
    EXPECT_NE(std::find(kept.begin(), kept.end(), word), kept.end()) << word;
  }
}

TEST_F(DocumentsTest, BinaryCodesForDocuments) {
  const TopicCorpus corpus = MakeTopicCorpus(240, kTopics, kWordsPerTopic);
  ASSERT_TRUE(CreateDocs("hash", corpus.vocabulary, v1::CODE_KIND_BINARY).ok());
  ASSERT_TRUE(UploadExamples("hash", "train", IdsExamples(corpus)).ok());
  const v1::Job job = Train("hash", "train", DenseSpec(16), /*promote=*/true);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  WaitServing("hash", job.model_version());
  const v1::Model model = ServingModel("hash", job);
  EXPECT_EQ(model.spec().dense().code_activation(), v1::ACTIVATION_LOGISTIC);
  EXPECT_GT(model.spec().dense().binary().noise_stddev(), 0);
  const v1::EvaluationReport& report = model.report();
  EXPECT_GT(report.validation_items(), 0u);
  EXPECT_GT(report.reconstruction_error(), 0);
  EXPECT_GT(report.pca_reconstruction_error(), 0);
  EXPECT_GT(report.precision_at_10(), 0.5);      // Chance is 0.25.
  EXPECT_GT(report.pca_precision_at_10(), 0.5);  // PCA codes by L2, not thresholded.

  const TopicCorpus items = MakeTopicCorpus(40, kTopics, kWordsPerTopic, 12, 0.8, 5);
  v1::UpsertRequest upsert;
  upsert.set_collection("hash");
  for (size_t i = 0; i < items.documents.size(); ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("d" + std::to_string(i));
    *item->mutable_input() = IdsExample(items.documents[i]).input();
    item->set_label(items.documents[i].label());
  }
  ASSERT_TRUE(core().ingest().Upsert(upsert).ok());
  v1::SearchRequest search;
  search.set_collection("hash");
  search.set_item_id("d0");
  search.set_k(5);
  auto found = core().queries().Search(search);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->query_code().has_binary_code());
  EXPECT_EQ(found->query_code().binary_code().num_bits(), 16u);
  EXPECT_EQ(found->query_code().binary_code().bits().size(), 2u);
  ASSERT_EQ(found->neighbors_size(), 5);
  for (const auto& n : found->neighbors()) {
    EXPECT_EQ(n.distance(), std::floor(n.distance()));  // Hamming: whole bits.
    EXPECT_GE(n.distance(), 0);
    EXPECT_LE(n.distance(), 16);
  }
}

// A classifier from a document auto-encoder keeps that version's text pipeline (vocabulary and
// representation), even when trained on a dataset that would learn another vocabulary, and
// classifies raw text with it.
TEST_F(DocumentsTest, AClassifierKeepsItsEncoderVersionsTextPipeline) {
  ASSERT_TRUE(CreateDocs("docs").ok());
  const TopicCorpus corpus = MakeTopicCorpus(240, kTopics, kWordsPerTopic);
  std::vector<v1::Example> texts;
  for (const TopicDocument& d : corpus.documents) texts.push_back(TextExample(d.text, d.label()));
  ASSERT_TRUE(UploadExamples("docs", "train", texts).ok());
  const v1::Job ae = Train("docs", "train", DenseSpec(4));
  ASSERT_EQ(ae.state(), v1::JOB_STATE_SUCCEEDED) << ae.error();
  // Another corpus of the same topics (purer, another seed): a pipeline learned from it would
  // have other document frequencies, and likely another word order.
  const TopicCorpus other = MakeTopicCorpus(160, kTopics, kWordsPerTopic, 12, 0.9, 5);
  texts.clear();
  for (const TopicDocument& d : other.documents) texts.push_back(TextExample(d.text, d.label()));
  ASSERT_TRUE(UploadExamples("docs", "labelled", texts).ok());

  v1::ModelSpec spec;
  spec.mutable_classifier()->set_encoder_model_version(ae.model_version());
  spec.mutable_training()->set_epochs(30);
  spec.mutable_training()->set_batch_size(16);
  spec.mutable_training()->set_learning_rate(0.01f);
  const v1::Job job = Train("docs", "labelled", spec);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  EXPECT_EQ(job.spec().text().SerializeAsString(), ae.spec().text().SerializeAsString());
  auto encoder = core().collections().LoadModel("docs", ae.model_version());
  auto classifier = core().collections().LoadModel("docs", job.model_version());
  ASSERT_TRUE(encoder.ok() && classifier.ok());
  ASSERT_NE((*classifier)->text, nullptr);
  EXPECT_EQ((*classifier)->text->Serialize(), (*encoder)->text->Serialize());
  EXPECT_EQ((*classifier)->meta.vocabulary_source(), v1::VOCABULARY_SOURCE_LEARNED);
  EXPECT_LT((*classifier)->meta.report().classification_error(), 0.25);

  v1::ClassifyRequest request;
  request.set_collection("docs");
  request.set_k(2);
  for (int topic = 0; topic < kTopics; ++topic) *request.add_inputs() = TopicQuery(corpus, topic);
  auto classified = core().queries().Classify(request);
  ASSERT_TRUE(classified.ok()) << classified.status();
  ASSERT_EQ(classified->classifications_size(), kTopics);
  for (int topic = 0; topic < kTopics; ++topic) {
    EXPECT_EQ(classified->classifications(topic).labels(0).label(), corpus.documents[topic].label())
        << classified->classifications(topic).ShortDebugString();
  }
}

}  // namespace
}  // namespace bn::testing
