// libFuzzer target: the conversion of v1 requests into engine inputs and options
// (server/core/specs.h, inputs.h, text_pipeline.h). The input is a serialized
// bn.fuzz.RequestsFuzzCase (tests/fuzz/requests_fuzz.proto): a collection spec, a model spec,
// training examples, items, a search query, encode inputs, decode codes and optionally a stored
// text pipeline. Built by run_fuzzers.sh.
//
// Checked: normalization is idempotent; an input converts iff it validates, into exactly the
// model's input size of finite values (pixels in [0, 1]); learned and stored text pipelines
// round-trip; API codes convert to store bytes of the right size and back; decoder outputs
// become a PNG of the collection's geometry or at most `top_words` words.
//
// BN_FUZZ_WRITE_SEEDS=DIR writes seeds (image and document cases with real PNG/JPEG files from
// BN_FUZZ_IMAGES=DIR) and exits.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/input/image.h"
#include "google/protobuf/stubs/logging.h"
#include "server/core/inputs.h"
#include "server/core/specs.h"
#include "server/core/text_pipeline.h"
#include "tests/fuzz/requests_fuzz.pb.h"

namespace {

namespace v1 = ::bottleneck::v1;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "requests_fuzzer invariant violated: %s\n", what);
  std::abort();
}

constexpr int kMaxInputs = 16;  // Per fuzz case, to keep single inputs cheap.

// The code size a normalized spec fixes; 0 for a classifier (its outputs are the dataset's
// labels).
int64_t ModelCodeSize(const v1::ModelSpec& spec) {
  switch (spec.architecture_case()) {
    case v1::ModelSpec::kPca:
      return spec.pca().code_size();
    case v1::ModelSpec::kLsa:
      return spec.lsa().code_size();
    case v1::ModelSpec::kDense:
      return spec.dense().code_size();
    case v1::ModelSpec::kConv:
      return spec.conv().code_size();
    default:
      return 0;
  }
}

// (A stored pipeline of an older format is written back in the current one: its bytes may
// change once, then must round-trip.)
std::unique_ptr<bn::TextPipeline> RoundTrip(const bn::TextPipeline& text) {
  const std::string bytes = text.Serialize();
  auto again = bn::TextPipeline::Deserialize(bytes);
  if (!again.ok()) Fail("a text pipeline's serialization does not load");
  if ((*again)->vocabulary_size() != text.vocabulary_size() || (*again)->Serialize() != bytes ||
      (*again)->source() != text.source()) {
    Fail("a text pipeline does not round-trip");
  }
  return std::move(*again);
}

void CheckInput(const v1::CollectionSpec& spec, const bn::TextPipeline* text,
                const v1::Input& input, std::vector<float>* last) {
  const bool valid = bn::ValidateInput(spec, input).ok();
  std::vector<float> x = {42.0f};  // InputToVector appends.
  const bool converted = bn::InputToVector(spec, text, input, &x).ok();
  if (converted && !valid) Fail("an input converts but does not validate");
  if (spec.has_image() && valid != converted) Fail("an image validates but does not convert");
  if (!converted) {
    if (x.size() != 1) Fail("a failed conversion appended values");
    return;
  }
  const size_t expected = spec.has_image() ? static_cast<size_t>(bn::InputSize(spec))
                                           : static_cast<size_t>(text->vocabulary_size());
  if (x.size() != expected + 1 || x[0] != 42.0f) Fail("converted input has the wrong size");
  for (size_t i = 1; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) Fail("converted input is not finite");
    if (spec.has_image() && !(x[i] >= 0.0f && x[i] <= 1.0f)) Fail("pixel outside [0, 1]");
  }
  last->assign(x.begin() + 1, x.end());
}

void CheckCode(const v1::Code& code, int64_t code_size, bn::CodeType type) {
  auto bytes = bn::CodeFromApi(code, code_size, type);
  if (!bytes.ok()) return;
  const size_t expected = type == bn::CodeType::kBinary ? static_cast<size_t>((code_size + 7) / 8)
                                                        : static_cast<size_t>(code_size) * 4;
  if (bytes->size() != expected) Fail("code bytes have the wrong size");
  const v1::Code back = bn::BytesToCode(*bytes, code_size, type);
  auto again = bn::CodeFromApi(back, code_size, type);
  if (!again.ok() || *again != *bytes) Fail("codes do not round-trip");
  std::vector<float> floats = bn::CodeBytesToFloats(*bytes, code_size, type);
  if (floats.size() != static_cast<size_t>(code_size)) Fail("code floats have the wrong size");
  if (bn::CodeToBytes(floats.data(), code_size, type) != *bytes) Fail("code bytes round-trip");
}

void CheckOutput(const v1::CollectionSpec& spec, const bn::TextPipeline* text,
                 const std::vector<float>& x, uint32_t top_words) {
  auto out = bn::VectorToOutput(spec, text, x.data(), top_words);
  if (spec.has_image()) {
    if (!out.ok() || !out->has_image()) Fail("an image output did not encode");
    auto png = bn::DecodePng(out->image().encoded());
    if (!png.ok() || png->height != static_cast<int>(spec.image().height()) ||
        png->width != static_cast<int>(spec.image().width())) {
      Fail("an image output has the wrong geometry");
    }
    return;
  }
  if (text == nullptr) return;
  if (!out.ok() || !out->has_words()) Fail("a document output failed");
  if (static_cast<uint32_t>(out->words().words_size()) !=
      std::min<uint32_t>(top_words, text->vocabulary_size())) {
    Fail("a document output has the wrong number of words");
  }
}

void Run(const bn::fuzz::RequestsFuzzCase& c) {
  v1::CollectionSpec spec = c.create().spec();
  if (!bn::NormalizeCollectionSpec(&spec).ok()) return;
  {
    v1::CollectionSpec again = spec;
    if (!bn::NormalizeCollectionSpec(&again).ok() ||
        again.SerializeAsString() != spec.SerializeAsString()) {
      Fail("collection normalization is not idempotent");
    }
  }
  const int64_t input_size = bn::InputSize(spec);
  if (input_size < 1) Fail("a normalized collection has no input");
  v1::ModelSpec model = c.train().spec();
  const bool model_ok = bn::NormalizeModelSpec(spec, &model).ok();
  if (model_ok) {
    v1::ModelSpec again = model;
    if (!bn::NormalizeModelSpec(spec, &again).ok() ||
        again.SerializeAsString() != model.SerializeAsString()) {
      Fail("model normalization is not idempotent");
    }
    const int64_t code = ModelCodeSize(model);
    if (model.has_classifier()) {
      if (model.classifier().encoder_model_version() == 0 &&
          model.classifier().hidden_sizes().empty()) {
        Fail("a normalized classifier without an encoder has no hidden layers");
      }
    } else if (code < 1 || code > bn::kMaxCodeSize) {
      Fail("a normalized model spec has a bad code size");
    }
  }
  const int64_t code_size = model_ok && !model.has_classifier() ? ModelCodeSize(model) : 8;
  const bn::CodeType type =
      spec.code_kind() == v1::CODE_KIND_BINARY ? bn::CodeType::kBinary : bn::CodeType::kFloat;

  std::unique_ptr<bn::TextPipeline> text;
  if (spec.has_document()) {
    std::vector<const v1::Document*> corpus;
    for (const v1::Example& e : c.upload().examples()) {
      if (bn::ValidateInput(spec, e.input(), true).ok()) corpus.push_back(&e.input().document());
    }
    // The upload's vocabulary, as DatasetCatalog checks it.
    google::protobuf::RepeatedPtrField<std::string> words = c.upload().vocabulary_words();
    std::vector<std::string> vocabulary;
    if (!words.empty() &&
        bn::NormalizeVocabularyList("vocabulary_words", spec.document().vocabulary_size(), &words)
            .ok()) {
      vocabulary.assign(words.begin(), words.end());
    }
    if (!corpus.empty()) {
      auto learned = bn::TextPipeline::Learn(corpus, spec.document(), model.text(), vocabulary);
      if (learned.ok()) {
        if ((*learned)->vocabulary_size() > spec.document().vocabulary_size()) {
          Fail("a learned vocabulary is larger than asked");
        }
        text = RoundTrip(**learned);
      }
    }
    if (!c.text_pipeline().empty()) {
      auto stored = bn::TextPipeline::Deserialize(c.text_pipeline());
      if (stored.ok()) {
        std::unique_ptr<bn::TextPipeline> checked = RoundTrip(**stored);
        if (text == nullptr) text = std::move(checked);
      }
    }
  }

  std::vector<const v1::Input*> inputs;
  for (const v1::Item& item : c.upsert().items()) inputs.push_back(&item.input());
  if (c.search().has_input()) inputs.push_back(&c.search().input());
  for (const v1::Input& input : c.encode().inputs()) inputs.push_back(&input);
  std::vector<float> last;
  for (size_t i = 0; i < inputs.size() && i < kMaxInputs; ++i) {
    CheckInput(spec, text.get(), *inputs[i], &last);
  }

  if (c.search().has_code()) CheckCode(c.search().code(), code_size, type);
  for (int i = 0; i < c.decode().codes_size() && i < kMaxInputs; ++i) {
    CheckCode(c.decode().codes(i), code_size, type);
  }
  // A decoder output: the last converted input (a plausible reconstruction) or a ramp.
  const size_t out_size = spec.has_image()  ? static_cast<size_t>(input_size)
                          : text != nullptr ? text->vocabulary_size()
                                            : 0;
  if (out_size == 0 || out_size > (1u << 18)) return;
  if (last.size() != out_size) {
    last.resize(out_size);
    for (size_t i = 0; i < out_size; ++i) last[i] = static_cast<float>(i % 7) / 6.0f;
  }
  const uint32_t top = c.decode().top_words() == 0 ? 20 : c.decode().top_words();
  CheckOutput(spec, text.get(), last, top);
}

// --- seeds -------------------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& dir, const std::string& name, const bn::fuzz::RequestsFuzzCase& c) {
  std::ofstream(dir + "/" + name, std::ios::binary) << c.SerializeAsString();
}

void WriteSeeds(const std::string& dir) {
  const char* images = std::getenv("BN_FUZZ_IMAGES");
  const std::string png = images ? ReadFile(std::string(images) + "/grey_8x6.png") : "";
  const std::string jpg = images ? ReadFile(std::string(images) + "/rgb_24x16.jpg") : "";
  {  // Grey image collection, dense AE, a PNG, raw uint8 and float tensors, float codes.
    bn::fuzz::RequestsFuzzCase c;
    auto* g = c.mutable_create()->mutable_spec()->mutable_image();
    g->set_height(28);
    g->set_width(28);
    g->set_channels(1);
    auto* dense = c.mutable_train()->mutable_spec()->mutable_dense();
    dense->add_encoder_sizes(64);
    dense->set_code_size(4);
    c.mutable_upsert()->add_items()->mutable_input()->mutable_image()->set_encoded(png);
    auto* raw = c.mutable_upsert()->add_items()->mutable_input()->mutable_image()->mutable_raw();
    raw->set_height(5);
    raw->set_width(3);
    raw->set_channels(1);
    raw->set_pixel_type(v1::PIXEL_TYPE_UINT8);
    raw->set_data(std::string(15, '\x80'));
    auto* fraw = c.mutable_search()->mutable_input()->mutable_image()->mutable_raw();
    fraw->set_height(2);
    fraw->set_width(2);
    fraw->set_channels(3);
    fraw->set_pixel_type(v1::PIXEL_TYPE_FLOAT32);
    const float px[12] = {0, 0.5f, 1, 0.25f, 0.75f, 0, 1, 1, 0, 0.1f, 0.2f, 0.3f};
    fraw->set_data(std::string(reinterpret_cast<const char*>(px), sizeof(px)));
    auto* code = c.mutable_decode()->add_codes()->mutable_float_code();
    for (int i = 0; i < 4; ++i) code->add_values(0.5f * i);
    Write(dir, "image_dense", c);
    // A classifier from random weights (default layers), then from an encoder version.
    c.mutable_train()->mutable_spec()->mutable_classifier();
    Write(dir, "image_classifier", c);
    auto* classifier = c.mutable_train()->mutable_spec()->mutable_classifier();
    classifier->set_encoder_model_version(3);
    classifier->set_encoder_layers(2);
    classifier->add_hidden_sizes(32);
    classifier->set_freeze_encoder(true);
    Write(dir, "image_classifier_from_encoder", c);
  }
  {  // RGB binary collection, conv AE, a JPEG, binary codes.
    bn::fuzz::RequestsFuzzCase c;
    auto* spec = c.mutable_create()->mutable_spec();
    spec->mutable_image()->set_height(8);
    spec->mutable_image()->set_width(8);
    spec->mutable_image()->set_channels(3);
    spec->set_code_kind(v1::CODE_KIND_BINARY);
    auto* conv = c.mutable_train()->mutable_spec()->mutable_conv();
    auto* layer = conv->add_encoder();
    layer->set_filters(4);
    layer->set_pool_size(2);
    conv->set_code_size(12);
    c.mutable_encode()->add_inputs()->mutable_image()->set_encoded(jpg);
    auto* bits = c.mutable_decode()->add_codes()->mutable_binary_code();
    bits->set_bits("\x5a\x0f");
    bits->set_num_bits(12);
    Write(dir, "image_conv_binary", c);
  }
  {  // Document collection: corpus, tf-idf dense AE, text / word ids / words, decode.
    bn::fuzz::RequestsFuzzCase c;
    auto* doc = c.mutable_create()->mutable_spec()->mutable_document();
    doc->set_vocabulary_size(20);
    doc->set_allow_raw_text(true);
    auto* ms = c.mutable_train()->mutable_spec();
    ms->mutable_dense()->add_encoder_sizes(10);
    ms->mutable_dense()->set_code_size(3);
    ms->mutable_text()->set_representation(v1::DOCUMENT_REPRESENTATION_TF_IDF);
    for (const char* t : {"Oil prices rose sharply as crude output fell.",
                          "Grain exports fell; wheat prices rose in Chicago trading.",
                          "The central bank raised interest rates on oil fears."}) {
      c.mutable_upload()->add_examples()->mutable_input()->mutable_document()->set_text(t);
    }
    c.mutable_upsert()->add_items()->mutable_input()->mutable_document()->set_text(
        "oil and wheat prices");
    auto* ids =
        c.mutable_upsert()->add_items()->mutable_input()->mutable_document()->mutable_word_ids();
    ids->add_ids(1);
    ids->add_counts(2);
    ids->add_ids(3);
    ids->add_counts(1);
    auto* words = c.mutable_search()->mutable_input()->mutable_document()->mutable_words();
    auto* w = words->add_counts();
    w->set_word("oil");
    w->set_count(3);
    auto* code = c.mutable_decode()->add_codes()->mutable_float_code();
    for (int i = 0; i < 3; ++i) code->add_values(i - 1.0f);
    c.mutable_decode()->set_top_words(5);
    Write(dir, "documents", c);
    // The same with the pipeline learned from the corpus stored in the case.
    std::vector<const v1::Document*> corpus;
    for (const auto& e : c.upload().examples()) corpus.push_back(&e.input().document());
    auto text = bn::TextPipeline::Learn(corpus, c.create().spec().document(), ms->text(), {});
    if (!text.ok()) Fail("seed text pipeline");
    c.set_text_pipeline((*text)->Serialize());
    c.mutable_upload()->clear_examples();
    ms->clear_dense();
    ms->mutable_pca()->set_code_size(2);
    Write(dir, "documents_stored_pipeline", c);
  }
  {  // Word-id documents with a vocabulary uploaded with them, then without one (id-only); a
     // mail as a query.
    bn::fuzz::RequestsFuzzCase c;
    c.mutable_create()->mutable_spec()->mutable_document()->set_vocabulary_size(4);
    c.mutable_create()->mutable_spec()->mutable_document()->set_allow_raw_text(true);
    c.mutable_train()->mutable_spec()->mutable_pca()->set_code_size(2);
    for (const char* w : {"Oil", "wheat", "c++", "prices"})
      c.mutable_upload()->add_vocabulary_words(w);
    for (int d = 0; d < 3; ++d) {
      auto* ids = c.mutable_upload()
                      ->add_examples()
                      ->mutable_input()
                      ->mutable_document()
                      ->mutable_word_ids();
      ids->add_ids(d);
      ids->add_counts(1 + d);
      ids->add_ids(3);
      ids->add_counts(2);
    }
    c.mutable_search()->mutable_input()->mutable_document()->set_text(
        "From: a@b.c\nSubject: oil prices\nDate: today\n\n> wheat\n<p>C++ &amp; oil</p>\n");
    Write(dir, "documents_word_ids_vocabulary", c);
    c.mutable_upload()->clear_vocabulary_words();
    Write(dir, "documents_word_ids_only", c);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);  // Parse errors of invalid UTF-8 strings are noise.
  if (const char* dir = std::getenv("BN_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bn::fuzz::RequestsFuzzCase c;
  if (!c.ParseFromArray(data, static_cast<int>(size))) return 0;
  Run(c);
  return 0;
}
