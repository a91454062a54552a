// Bad input over every RPC: each case expects its precise status, and afterwards the server is
// still serving and nothing changed (same collections, items, datasets, jobs and models).
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using Code = grpc::StatusCode;

v1::Input Grey(int h, int w, uint8_t value) {
  return RawGrey(h, w, std::string(h * w, static_cast<char>(value)));
}

// A PNG header that claims 60000 x 60000 pixels (a decompression bomb's signature).
std::string BombPng() {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  const unsigned char ihdr[] = {0, 0,    0,    13, 'I', 'H', 'D', 'R', 0,    0,    0xEA, 0x60, 0,
                                0, 0xEA, 0x60, 8,  0,   0,   0,   0,   0x2F, 0x6C, 0x7A, 0x5B};
  png.append(reinterpret_cast<const char*>(ihdr), sizeof(ihdr));
  png.append(100000, '\0');
  return png;
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    auto channel = server_->Channel();
    collections_ = v1::CollectionService::NewStub(channel);
    training_ = v1::TrainingService::NewStub(channel);
    models_ = v1::ModelService::NewStub(channel);
    items_ = v1::ItemService::NewStub(channel);
    query_ = v1::QueryService::NewStub(channel);
    // A served image collection (8x8 grey, PCA-4) with 20 items, and a document collection.
    v1::CreateCollectionRequest create;
    create.set_name("img");
    create.mutable_spec()->mutable_image()->set_height(8);
    create.mutable_spec()->mutable_image()->set_width(8);
    create.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection c;
    ASSERT_TRUE(collections_->CreateCollection(Ctx().get(), create, &c).ok());
    create.set_name("docs");
    create.mutable_spec()->mutable_document()->set_vocabulary_size(50);
    ASSERT_TRUE(collections_->CreateCollection(Ctx().get(), create, &c).ok());
    {
      auto ctx = Ctx();
      v1::Dataset d;
      auto w = training_->UploadDataset(ctx.get(), &d);
      v1::UploadDatasetRequest m;
      m.set_collection("img");
      m.set_dataset("train");
      for (int i = 0; i < 40; ++i) *m.add_examples()->mutable_input() = Grey(8, 8, i * 6);
      ASSERT_TRUE(w->Write(m));
      w->WritesDone();
      ASSERT_TRUE(w->Finish().ok());
    }
    {  // The same images with two labels, for classifier requests.
      auto ctx = Ctx();
      v1::Dataset d;
      auto w = training_->UploadDataset(ctx.get(), &d);
      v1::UploadDatasetRequest m;
      m.set_collection("img");
      m.set_dataset("labelled");
      for (int i = 0; i < 40; ++i) {
        v1::Example* example = m.add_examples();
        *example->mutable_input() = Grey(8, 8, i * 6);
        example->set_label(i < 20 ? "dark" : "bright");
      }
      ASSERT_TRUE(w->Write(m));
      w->WritesDone();
      ASSERT_TRUE(w->Finish().ok());
    }
    v1::StartTrainingRequest start;
    start.set_collection("img");
    start.set_dataset("train");
    start.mutable_spec()->mutable_pca()->set_code_size(4);
    start.set_promote_when_done(true);
    v1::Job job;
    ASSERT_TRUE(training_->StartTraining(Ctx().get(), start, &job).ok());
    job_id_ = job.id();
    for (int i = 0; i < 300; ++i) {
      v1::GetCollectionRequest get;
      get.set_name("img");
      ASSERT_TRUE(collections_->GetCollection(Ctx().get(), get, &c).ok());
      if (c.stats().serving_model_version() == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(c.stats().serving_model_version(), 1u);
    v1::UpsertRequest upsert;
    upsert.set_collection("img");
    for (int i = 0; i < 20; ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id("i" + std::to_string(i));
      *item->mutable_input() = Grey(8, 8, i * 10);
    }
    v1::UpsertResponse r;
    ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &r).ok());
  }

  // Everything observable about the state, as one string.
  std::string State() {
    std::string out;
    v1::ListCollectionsResponse list;
    EXPECT_TRUE(collections_->ListCollections(Ctx().get(), {}, &list).ok());
    for (auto c : list.collections()) {
      c.mutable_stats()->clear_store_bytes();  // An estimate that moves with compactions.
      c.mutable_stats()->clear_index_bytes();
      out += c.ShortDebugString() + "\n";
      v1::ListDatasetsRequest ld;
      ld.set_collection(c.name());
      v1::ListDatasetsResponse datasets;
      EXPECT_TRUE(training_->ListDatasets(Ctx().get(), ld, &datasets).ok());
      out += datasets.ShortDebugString() + "\n";
      v1::ListModelsRequest lm;
      lm.set_collection(c.name());
      v1::ListModelsResponse models;
      EXPECT_TRUE(models_->ListModels(Ctx().get(), lm, &models).ok());
      out += std::to_string(models.models_size()) + " models\n";
    }
    v1::ListJobsResponse jobs;
    EXPECT_TRUE(training_->ListJobs(Ctx().get(), {}, &jobs).ok());
    out += std::to_string(jobs.jobs_size()) + " jobs\n";
    return out;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::TrainingService::Stub> training_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
  std::string job_id_;
};

TEST_F(BadInputTest, EveryRpcRefusesBadInputPreciselyAndChangesNothing) {
  const std::string before = State();
  struct Case {
    std::string name;
    Code expected;
    std::function<grpc::Status()> call;
  };
  auto create = [&](const std::string& name, std::function<void(v1::CollectionSpec*)> edit) {
    return [this, name, edit] {
      v1::CreateCollectionRequest r;
      r.set_name(name);
      r.mutable_spec()->mutable_image()->set_height(8);
      r.mutable_spec()->mutable_image()->set_width(8);
      r.mutable_spec()->mutable_image()->set_channels(1);
      edit(r.mutable_spec());
      v1::Collection c;
      return collections_->CreateCollection(Ctx().get(), r, &c);
    };
  };
  auto search = [&](std::function<void(v1::SearchRequest*)> edit) {
    return [this, edit] {
      v1::SearchRequest r;
      r.set_collection("img");
      r.set_item_id("i1");
      edit(&r);
      v1::SearchResponse response;
      return query_->Search(Ctx().get(), r, &response);
    };
  };
  auto upsert = [&](std::function<void(v1::UpsertRequest*)> edit) {
    return [this, edit] {
      v1::UpsertRequest r;
      r.set_collection("img");
      v1::Item* item = r.add_items();
      item->set_id("new-item");
      *item->mutable_input() = Grey(8, 8, 1);
      edit(&r);
      v1::UpsertResponse response;
      return items_->Upsert(Ctx().get(), r, &response);
    };
  };
  auto train = [&](std::function<void(v1::StartTrainingRequest*)> edit) {
    return [this, edit] {
      v1::StartTrainingRequest r;
      r.set_collection("img");
      r.set_dataset("train");
      r.mutable_spec()->mutable_pca()->set_code_size(4);
      edit(&r);
      v1::Job job;
      return training_->StartTraining(Ctx().get(), r, &job);
    };
  };
  // A classifier job on the labelled dataset (from random weights unless edited).
  auto train_classifier = [&](std::function<void(v1::StartTrainingRequest*)> edit) {
    return train([edit](v1::StartTrainingRequest* r) {
      r->set_dataset("labelled");
      r->mutable_spec()->mutable_classifier();
      edit(r);
    });
  };
  auto classify = [&](std::function<void(v1::ClassifyRequest*)> edit) {
    return [this, edit] {
      v1::ClassifyRequest r;
      r.set_collection("img");
      *r.add_inputs() = Grey(8, 8, 7);
      edit(&r);
      v1::ClassifyResponse response;
      return query_->Classify(Ctx().get(), r, &response);
    };
  };
  // A document dataset upload to "docs" (50 words) of the given messages' edits.
  auto upload_docs = [&](std::vector<std::function<void(v1::UploadDatasetRequest*)>> edits) {
    return [this, edits] {
      auto ctx = Ctx();
      v1::Dataset d;
      auto w = training_->UploadDataset(ctx.get(), &d);
      for (size_t i = 0; i < edits.size(); ++i) {
        v1::UploadDatasetRequest m;
        if (i == 0) {
          m.set_collection("docs");
          m.set_dataset("bad-docs");
        }
        auto* ids = m.add_examples()->mutable_input()->mutable_document()->mutable_word_ids();
        ids->add_ids(static_cast<uint32_t>(i));
        ids->add_counts(2);
        edits[i](&m);
        if (!w->Write(m)) break;
      }
      w->WritesDone();
      return w->Finish();
    };
  };
  auto words = [](int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
      out.push_back("w" + std::string(1, static_cast<char>('a' + i % 26)) +
                    std::string(i / 26, 'z'));
    return out;
  };
  auto set_words = [](google::protobuf::RepeatedPtrField<std::string>* field,
                      const std::vector<std::string>& list) {
    *field = {list.begin(), list.end()};
  };
  auto document_spec = [=](int size, std::vector<std::string> list) {
    return [=](v1::CollectionSpec* s) {
      s->mutable_document()->set_vocabulary_size(static_cast<uint32_t>(size));
      set_words(s->mutable_document()->mutable_vocabulary_words(), list);
    };
  };
  std::vector<std::string> duplicated = words(50);
  duplicated[9] = "WA";  // words(50)[0] is "wa".
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<Case> cases = {
      {"collection name ../x", Code::INVALID_ARGUMENT, create("../x", [](auto*) {})},
      {"collection name empty", Code::INVALID_ARGUMENT, create("", [](auto*) {})},
      {"collection name too long", Code::INVALID_ARGUMENT,
       create(std::string(65, 'a'), [](auto*) {})},
      {"collection exists", Code::ALREADY_EXISTS, create("img", [](auto*) {})},
      {"no input kind", Code::INVALID_ARGUMENT, create("x1", [](auto* s) { s->clear_input(); })},
      {"zero height", Code::INVALID_ARGUMENT,
       create("x2", [](auto* s) { s->mutable_image()->set_height(0); })},
      {"2 channels", Code::INVALID_ARGUMENT,
       create("x3", [](auto* s) { s->mutable_image()->set_channels(2); })},
      {"unknown distance enum", Code::INVALID_ARGUMENT,
       create("x4", [](auto* s) { s->set_distance(static_cast<v1::Distance>(77)); })},
      {"hamming with float codes", Code::INVALID_ARGUMENT,
       create("x5", [](auto* s) { s->set_distance(v1::DISTANCE_HAMMING); })},
      {"huge M", Code::INVALID_ARGUMENT,
       create("x6", [](auto* s) { s->mutable_index()->set_m(100000); })},
      {"get unknown collection", Code::NOT_FOUND,
       [&] {
         v1::GetCollectionRequest r;
         r.set_name("nope");
         v1::Collection c;
         return collections_->GetCollection(Ctx().get(), r, &c);
       }},
      {"delete hostile name", Code::INVALID_ARGUMENT,
       [&] {
         v1::DeleteCollectionRequest r;
         r.set_name("../../etc");
         v1::DeleteCollectionResponse d;
         return collections_->DeleteCollection(Ctx().get(), r, &d);
       }},
      {"search k too large", Code::INVALID_ARGUMENT, search([](auto* r) { r->set_k(100000); })},
      {"search ef too large", Code::INVALID_ARGUMENT, search([](auto* r) { r->set_ef(1u << 30); })},
      {"search no query", Code::INVALID_ARGUMENT, search([](auto* r) { r->clear_query(); })},
      {"search unknown item", Code::NOT_FOUND, search([](auto* r) { r->set_item_id("zzz"); })},
      {"search NaN code", Code::INVALID_ARGUMENT, search([=](auto* r) {
         for (float v : {0.f, nan, 0.f, 0.f})
           r->mutable_code()->mutable_float_code()->add_values(v);
       })},
      {"search Inf code", Code::INVALID_ARGUMENT, search([=](auto* r) {
         for (float v : {inf, 0.f, 0.f, 0.f})
           r->mutable_code()->mutable_float_code()->add_values(v);
       })},
      {"search code of the wrong size", Code::INVALID_ARGUMENT,
       search([](auto* r) { r->mutable_code()->mutable_float_code()->add_values(1); })},
      {"search binary code on float model", Code::INVALID_ARGUMENT,
       search([](auto* r) { r->mutable_code()->mutable_binary_code()->set_num_bits(4); })},
      {"search document in image collection", Code::INVALID_ARGUMENT,
       search([](auto* r) { r->mutable_input()->mutable_document()->set_text("hello"); })},
      {"search corrupt PNG", Code::INVALID_ARGUMENT, search([](auto* r) {
         r->mutable_input()->mutable_image()->set_encoded(
             std::string("\x89PNG\r\n\x1a\nbroken", 14));
       })},
      {"search decompression bomb", Code::INVALID_ARGUMENT,
       search([](auto* r) { r->mutable_input()->mutable_image()->set_encoded(BombPng()); })},
      {"search raw image with short data", Code::INVALID_ARGUMENT, search([](auto* r) {
         *r->mutable_input() = Grey(8, 8, 0);
         r->mutable_input()->mutable_image()->mutable_raw()->mutable_data()->resize(10);
       })},
      {"search raw image unknown pixel type", Code::INVALID_ARGUMENT, search([](auto* r) {
         *r->mutable_input() = Grey(8, 8, 0);
         r->mutable_input()->mutable_image()->mutable_raw()->set_pixel_type(
             static_cast<v1::PixelType>(9));
       })},
      {"search giant raw image", Code::INVALID_ARGUMENT, search([](auto* r) {
         *r->mutable_input() = Grey(8, 8, 0);
         r->mutable_input()->mutable_image()->mutable_raw()->set_height(1u << 31);
       })},
      {"search empty encoded image", Code::INVALID_ARGUMENT,
       search([](auto* r) { r->mutable_input()->mutable_image()->set_encoded(""); })},
      {"search docs before a model", Code::FAILED_PRECONDITION,
       [&] {
         v1::SearchRequest r;
         r.set_collection("docs");
         r.mutable_input()->mutable_document()->set_text("text");
         v1::SearchResponse response;
         return query_->Search(Ctx().get(), r, &response);
       }},
      {"upsert bad id", Code::INVALID_ARGUMENT,
       upsert([](auto* r) { r->mutable_items(0)->set_id(std::string("a\0b", 3)); })},
      {"upsert empty id", Code::INVALID_ARGUMENT,
       upsert([](auto* r) { r->mutable_items(0)->set_id(""); })},
      {"upsert no items", Code::INVALID_ARGUMENT, upsert([](auto* r) { r->clear_items(); })},
      {"upsert no input", Code::INVALID_ARGUMENT,
       upsert([](auto* r) { r->mutable_items(0)->clear_input(); })},
      {"upsert unknown collection", Code::NOT_FOUND,
       upsert([](auto* r) { r->set_collection("nope"); })},
      {"upsert bad second item", Code::INVALID_ARGUMENT, upsert([](auto* r) {
         v1::Item* bad = r->add_items();
         bad->set_id("bad");
         bad->mutable_input()->mutable_image()->set_encoded("xx");
       })},
      {"upsert giant label", Code::INVALID_ARGUMENT,
       upsert([](auto* r) { r->mutable_items(0)->set_label(std::string(300, 'l')); })},
      {"upsert doc with invalid UTF-8", Code::INVALID_ARGUMENT,
       [&] {
         v1::UpsertRequest r;
         r.set_collection("docs");
         v1::Item* item = r.add_items();
         item->set_id("d");
         item->mutable_input()->mutable_document()->set_text("caf\xc3");
         v1::UpsertResponse response;
         return items_->Upsert(Ctx().get(), r, &response);
       }},
      {"upsert doc word id out of range", Code::INVALID_ARGUMENT,
       [&] {
         v1::UpsertRequest r;
         r.set_collection("docs");
         v1::Item* item = r.add_items();
         item->set_id("d");
         auto* ids = item->mutable_input()->mutable_document()->mutable_word_ids();
         ids->add_ids(50);
         ids->add_counts(1);
         v1::UpsertResponse response;
         return items_->Upsert(Ctx().get(), r, &response);
       }},
      {"upsert doc mismatched counts", Code::INVALID_ARGUMENT,
       [&] {
         v1::UpsertRequest r;
         r.set_collection("docs");
         v1::Item* item = r.add_items();
         item->set_id("d");
         item->mutable_input()->mutable_document()->mutable_word_ids()->add_ids(1);
         v1::UpsertResponse response;
         return items_->Upsert(Ctx().get(), r, &response);
       }},
      {"get item unknown", Code::NOT_FOUND,
       [&] {
         v1::GetItemRequest r;
         r.set_collection("img");
         r.set_id("missing");
         v1::GetItemResponse response;
         return items_->GetItem(Ctx().get(), r, &response);
       }},
      {"delete no ids", Code::INVALID_ARGUMENT,
       [&] {
         v1::DeleteItemsRequest r;
         r.set_collection("img");
         v1::DeleteItemsResponse response;
         return items_->DeleteItems(Ctx().get(), r, &response);
       }},
      {"train unknown dataset", Code::NOT_FOUND, train([](auto* r) { r->set_dataset("nope"); })},
      {"train augmentation shifting half the image", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->mutable_spec()->mutable_training()->mutable_augmentation()->set_max_shift_pixels(4);
       })},
      {"train dropout above 0.9", Code::INVALID_ARGUMENT,
       train([](auto* r) { r->mutable_spec()->mutable_training()->set_dropout(0.95f); })},
      {"train neighbour targets on an image collection", Code::INVALID_ARGUMENT,
       train([](auto* r) {
         v1::DenseAutoencoderSpec* d = r->mutable_spec()->mutable_dense();
         d->set_code_size(4);
         d->mutable_neighbour_targets()->set_count(20);
       })},
      {"train keep_last_epoch with a patience", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->mutable_spec()->mutable_training()->set_keep_last_epoch(true);
         r->mutable_spec()->mutable_training()->set_early_stopping_patience(3);
       })},
      {"train unknown validation split", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->mutable_spec()->mutable_training()->set_validation(static_cast<v1::ValidationSplit>(9));
       })},
      {"train by-label split of an unlabelled dataset", Code::FAILED_PRECONDITION,
       train([](auto* r) {
         r->mutable_spec()->mutable_training()->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
       })},
      {"train code bigger than input", Code::INVALID_ARGUMENT,
       train([](auto* r) { r->mutable_spec()->mutable_pca()->set_code_size(65); })},
      {"train NaN learning rate", Code::INVALID_ARGUMENT,
       train([=](auto* r) { r->mutable_spec()->mutable_training()->set_learning_rate(nan); })},
      {"train negative epochs via huge", Code::INVALID_ARGUMENT,
       train([](auto* r) { r->mutable_spec()->mutable_training()->set_epochs(4000000000u); })},
      {"train conv on documents", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->set_collection("docs");
         r->mutable_spec()->mutable_conv()->add_encoder()->set_filters(4);
         r->mutable_spec()->mutable_conv()->set_code_size(4);
       })},
      {"train giant layer", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->mutable_spec()->mutable_dense()->add_encoder_sizes(1u << 30);
         r->mutable_spec()->mutable_dense()->set_code_size(4);
       })},
      {"train unknown optimizer", Code::INVALID_ARGUMENT, train([](auto* r) {
         r->mutable_spec()->mutable_training()->set_optimizer(static_cast<v1::OptimizerKind>(9));
       })},
      {"train classifier on an unlabelled dataset", Code::FAILED_PRECONDITION,
       train_classifier([](auto* r) { r->set_dataset("train"); })},
      {"train classifier from a PCA version", Code::FAILED_PRECONDITION,
       train_classifier([](auto* r) {
         r->mutable_spec()->mutable_classifier()->set_encoder_model_version(1);
       })},
      {"train classifier from an unknown version", Code::NOT_FOUND, train_classifier([](auto* r) {
         r->mutable_spec()->mutable_classifier()->set_encoder_model_version(77);
       })},
      {"train classifier encoder layers without an encoder", Code::INVALID_ARGUMENT,
       train_classifier(
           [](auto* r) { r->mutable_spec()->mutable_classifier()->set_encoder_layers(2); })},
      {"train classifier freezing no encoder", Code::INVALID_ARGUMENT,
       train_classifier(
           [](auto* r) { r->mutable_spec()->mutable_classifier()->set_freeze_encoder(true); })},
      {"train classifier with a 0-unit layer", Code::INVALID_ARGUMENT,
       train_classifier(
           [](auto* r) { r->mutable_spec()->mutable_classifier()->add_hidden_sizes(0); })},
      {"train classifier unknown activation", Code::INVALID_ARGUMENT,
       train_classifier([](auto* r) {
         r->mutable_spec()->mutable_classifier()->set_hidden_activation(
             static_cast<v1::Activation>(42));
       })},
      {"train classifier validated by label", Code::INVALID_ARGUMENT,
       train_classifier([](auto* r) {
         r->mutable_spec()->mutable_training()->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
       })},
      {"train classifier promoted when done", Code::INVALID_ARGUMENT,
       train_classifier([](auto* r) { r->set_promote_when_done(true); })},
      {"classify without a classifier version", Code::FAILED_PRECONDITION, classify([](auto*) {})},
      {"classify with a PCA version", Code::FAILED_PRECONDITION,
       classify([](auto* r) { r->set_model_version(1); })},
      {"classify with an unknown version", Code::NOT_FOUND,
       classify([](auto* r) { r->set_model_version(5); })},
      {"classify k too large", Code::INVALID_ARGUMENT, classify([](auto* r) { r->set_k(1001); })},
      {"classify no inputs", Code::INVALID_ARGUMENT, classify([](auto* r) { r->clear_inputs(); })},
      {"classify unknown collection", Code::NOT_FOUND,
       classify([](auto* r) { r->set_collection("nope"); })},
      {"search with label votes, bad query", Code::INVALID_ARGUMENT, search([](auto* r) {
         r->set_label_votes(true);
         r->mutable_input()->mutable_image()->set_encoded("xx");
       })},
      {"get unknown job", Code::NOT_FOUND,
       [&] {
         v1::GetJobRequest r;
         r.set_job_id("img.999");
         v1::Job job;
         return training_->GetJob(Ctx().get(), r, &job);
       }},
      {"resume a finished job", Code::FAILED_PRECONDITION,
       [&] {
         v1::ResumeJobRequest r;
         r.set_job_id(job_id_);
         v1::Job job;
         return training_->ResumeJob(Ctx().get(), r, &job);
       }},
      {"get unknown model", Code::NOT_FOUND,
       [&] {
         v1::GetModelRequest r;
         r.set_collection("img");
         r.set_version(42);
         v1::Model m;
         return models_->GetModel(Ctx().get(), r, &m);
       }},
      {"promote version 0", Code::INVALID_ARGUMENT,
       [&] {
         v1::PromoteModelRequest r;
         r.set_collection("img");
         v1::Promotion p;
         return models_->PromoteModel(Ctx().get(), r, &p);
       }},
      {"encode no inputs", Code::INVALID_ARGUMENT,
       [&] {
         v1::EncodeRequest r;
         r.set_collection("img");
         v1::EncodeResponse response;
         return query_->Encode(Ctx().get(), r, &response);
       }},
      {"encode unknown model version", Code::NOT_FOUND,
       [&] {
         v1::EncodeRequest r;
         r.set_collection("img");
         r.set_model_version(9);
         *r.add_inputs() = Grey(8, 8, 3);
         v1::EncodeResponse response;
         return query_->Encode(Ctx().get(), r, &response);
       }},
      {"decode wrong code size", Code::INVALID_ARGUMENT,
       [&] {
         v1::DecodeRequest r;
         r.set_collection("img");
         r.add_codes()->mutable_float_code()->add_values(1);
         v1::DecodeResponse response;
         return query_->Decode(Ctx().get(), r, &response);
       }},
      {"decode too many top words", Code::INVALID_ARGUMENT,
       [&] {
         v1::DecodeRequest r;
         r.set_collection("img");
         r.set_top_words(5000);
         for (int i = 0; i < 4; ++i) r.add_codes()->mutable_float_code()->add_values(0);
         v1::DecodeResponse response;
         return query_->Decode(Ctx().get(), r, &response);
       }},
      {"upload to unknown collection", Code::NOT_FOUND,
       [&] {
         auto ctx = Ctx();
         v1::Dataset d;
         auto w = training_->UploadDataset(ctx.get(), &d);
         v1::UploadDatasetRequest m;
         m.set_collection("nope");
         m.set_dataset("x");
         *m.add_examples()->mutable_input() = Grey(8, 8, 0);
         w->Write(m);
         w->WritesDone();
         return w->Finish();
       }},
      {"upload existing dataset", Code::ALREADY_EXISTS,
       [&] {
         auto ctx = Ctx();
         v1::Dataset d;
         auto w = training_->UploadDataset(ctx.get(), &d);
         v1::UploadDatasetRequest m;
         m.set_collection("img");
         m.set_dataset("train");
         *m.add_examples()->mutable_input() = Grey(8, 8, 0);
         w->Write(m);
         w->WritesDone();
         return w->Finish();
       }},
      {"upload with a bad example leaves nothing", Code::INVALID_ARGUMENT,
       [&] {
         auto ctx = Ctx();
         v1::Dataset d;
         auto w = training_->UploadDataset(ctx.get(), &d);
         v1::UploadDatasetRequest m;
         m.set_collection("img");
         m.set_dataset("partial");
         *m.add_examples()->mutable_input() = Grey(8, 8, 0);
         w->Write(m);
         m.clear_examples();
         m.add_examples()->mutable_input()->mutable_image()->set_encoded("junk");
         w->Write(m);
         w->WritesDone();
         return w->Finish();
       }},
      {"upload empty stream", Code::INVALID_ARGUMENT,
       [&] {
         auto ctx = Ctx();
         v1::Dataset d;
         auto w = training_->UploadDataset(ctx.get(), &d);
         w->WritesDone();
         return w->Finish();
       }},
      {"collection vocabulary with a duplicate after lower-casing", Code::INVALID_ARGUMENT,
       create("v1", document_spec(50, duplicated))},
      {"collection vocabulary of the wrong length", Code::INVALID_ARGUMENT,
       create("v2", document_spec(50, words(49)))},
      {"collection vocabulary with an empty word", Code::INVALID_ARGUMENT,
       create("v3", document_spec(0, {"oil", "", "gas"}))},
      {"dataset vocabulary with a duplicate", Code::INVALID_ARGUMENT,
       upload_docs({[&](auto* m) { set_words(m->mutable_vocabulary_words(), duplicated); }})},
      {"dataset vocabulary of the wrong length", Code::INVALID_ARGUMENT,
       upload_docs({[&](auto* m) { set_words(m->mutable_vocabulary_words(), words(51)); }})},
      {"dataset vocabulary in a later message", Code::INVALID_ARGUMENT,
       upload_docs({[](auto*) {},
                    [&](auto* m) { set_words(m->mutable_vocabulary_words(), words(50)); }})},
      {"dataset vocabulary for images", Code::INVALID_ARGUMENT,
       [&] {
         auto ctx = Ctx();
         v1::Dataset d;
         auto w = training_->UploadDataset(ctx.get(), &d);
         v1::UploadDatasetRequest m;
         m.set_collection("img");
         m.set_dataset("with-words");
         m.add_vocabulary_words("oil");
         *m.add_examples()->mutable_input() = Grey(8, 8, 0);
         w->Write(m);
         w->WritesDone();
         return w->Finish();
       }},
      {"upload word id outside the vocabulary", Code::INVALID_ARGUMENT,
       upload_docs({[](auto*) {},
                    [](auto* m) {
                      m->mutable_examples(0)->mutable_input()->mutable_document()
                          ->mutable_word_ids()->set_ids(0, 50);
                    }})},
      {"upload empty text document", Code::INVALID_ARGUMENT,
       upload_docs({[](auto* m) {
         m->mutable_examples(0)->mutable_input()->mutable_document()->set_text("  \n ");
       }})},
      {"upload document with no word ids", Code::INVALID_ARGUMENT,
       upload_docs({[](auto* m) {
         m->mutable_examples(0)->mutable_input()->mutable_document()->mutable_word_ids()->Clear();
       }})},
      {"upload text in Latin-1", Code::INVALID_ARGUMENT,
       upload_docs({[](auto* m) {
         m->mutable_examples(0)->mutable_input()->mutable_document()->set_text("caf\xE9");
       }})},
      {"upload mixing word ids and texts without a vocabulary", Code::INVALID_ARGUMENT,
       upload_docs({[](auto*) {},
                    [](auto* m) {
                      m->mutable_examples(0)->mutable_input()->mutable_document()->set_text(
                          "crude oil");
                    }})},
      {"upload changing skip_invalid", Code::INVALID_ARGUMENT,
       upload_docs({[](auto*) {}, [](auto* m) { m->set_skip_invalid(true); }})},
      {"upsert empty words document", Code::INVALID_ARGUMENT,
       [&] {
         v1::UpsertRequest r;
         r.set_collection("docs");
         v1::Item* item = r.add_items();
         item->set_id("d");
         item->mutable_input()->mutable_document()->mutable_words();
         v1::UpsertResponse response;
         return items_->Upsert(Ctx().get(), r, &response);
       }},
      {"oversized message", Code::RESOURCE_EXHAUSTED,
       [&] {
         v1::UpsertRequest r;
         r.set_collection("img");
         v1::Item* item = r.add_items();
         item->set_id("big");
         item->mutable_input()->mutable_image()->set_encoded(std::string(70 << 20, 'x'));
         v1::UpsertResponse response;
         return items_->Upsert(Ctx().get(), r, &response);
       }},
  };
  int tried = 0;
  for (const Case& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), c.expected) << c.name << ": " << s.error_message();
    EXPECT_FALSE(s.error_message().empty()) << c.name;
    ++tried;
  }
  // Still serving, nothing changed.
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Ctx().get(), {}, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(State(), before);
  std::printf("%d bad inputs tried, server still serving, state unchanged\n", tried);
}

}  // namespace
}  // namespace bn::testing
