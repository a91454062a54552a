#include "server/core/inputs.h"

#include <cmath>
#include <cstring>

#include "engine/input/image.h"
#include "engine/input/text.h"
#include "server/core/specs.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr size_t kMaxTextBytes = 1 << 20;

ImageGeometry GeometryOf(const v1::CollectionSpec& spec) {
  ImageGeometry g;
  g.height = static_cast<int>(spec.image().height());
  g.width = static_cast<int>(spec.image().width());
  g.channels = static_cast<int>(spec.image().channels());
  return g;
}

absl::StatusOr<std::vector<float>> ImageToVector(const v1::CollectionSpec& spec,
                                                 const v1::Image& image) {
  switch (image.data_case()) {
    case v1::Image::kEncoded:
      if (image.encoded().empty()) return absl::InvalidArgumentError("image.encoded is empty");
      return EncodedImageToInput(image.encoded(), GeometryOf(spec));
    case v1::Image::kRaw: {
      const v1::RawImage& raw = image.raw();
      RawPixelType type;
      if (raw.pixel_type() == v1::PIXEL_TYPE_UINT8) {
        type = RawPixelType::kUint8;
      } else if (raw.pixel_type() == v1::PIXEL_TYPE_FLOAT32) {
        type = RawPixelType::kFloat32;
      } else {
        return absl::InvalidArgumentError("image.raw.pixel_type must be UINT8 or FLOAT32");
      }
      if (raw.height() > (1u << 16) || raw.width() > (1u << 16) || raw.channels() > 4) {
        return absl::InvalidArgumentError("image.raw dimensions are out of range");
      }
      return RawPixelsToInput(raw.data(), type, static_cast<int>(raw.height()),
                              static_cast<int>(raw.width()), static_cast<int>(raw.channels()),
                              GeometryOf(spec));
    }
    default:
      return absl::InvalidArgumentError("image needs encoded bytes or a raw tensor");
  }
}

absl::Status ValidateDocument(const v1::CollectionSpec& spec, const v1::Document& document,
                              bool allow_text) {
  switch (document.content_case()) {
    case v1::Document::kText:
      if (!spec.document().allow_raw_text() && !allow_text) {
        return absl::InvalidArgumentError(
            "this collection does not accept raw text; send word_ids or words");
      }
      if (document.text().size() > kMaxTextBytes) {
        return absl::InvalidArgumentError("document.text is larger than 1 MiB");
      }
      if (document.text().find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
        return absl::InvalidArgumentError("empty document: document.text has no characters");
      }
      if (absl::Status s = ValidateUtf8(document.text()); !s.ok()) {
        return absl::InvalidArgumentError("document.text: " + std::string(s.message()));
      }
      return absl::OkStatus();
    case v1::Document::kWordIds: {
      const v1::SparseCounts& counts = document.word_ids();
      if (counts.ids_size() != counts.counts_size()) {
        return absl::InvalidArgumentError("word_ids.ids and word_ids.counts differ in length");
      }
      if (counts.ids().empty()) {
        return absl::InvalidArgumentError("empty document: word_ids has no ids");
      }
      for (int i = 0; i < counts.ids_size(); ++i) {
        if (counts.ids(i) >= spec.document().vocabulary_size()) {
          return absl::InvalidArgumentError(
              "word_ids.ids[" + std::to_string(i) + "] = " + std::to_string(counts.ids(i)) +
              " is outside the vocabulary (ids 0.." +
              std::to_string(spec.document().vocabulary_size() - 1) + ")");
        }
        if (!std::isfinite(counts.counts(i)) || counts.counts(i) <= 0) {
          return absl::InvalidArgumentError("word counts must be finite and > 0");
        }
      }
      return absl::OkStatus();
    }
    case v1::Document::kWords:
      if (document.words().counts().empty()) {
        return absl::InvalidArgumentError("empty document: words has no words");
      }
      for (int i = 0; i < document.words().counts_size(); ++i) {
        const v1::WordCount& w = document.words().counts(i);
        const std::string at = "words.counts[" + std::to_string(i) + "]";
        if (w.word().empty() || !ValidateUtf8(w.word()).ok()) {
          return absl::InvalidArgumentError(at + ".word must be non-empty valid UTF-8");
        }
        if (!std::isfinite(w.count()) || w.count() <= 0) {
          return absl::InvalidArgumentError(at + ".count must be finite and > 0");
        }
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError("document needs text, word_ids or words");
  }
}

}  // namespace

absl::Status ValidateInput(const v1::CollectionSpec& spec, const v1::Input& input,
                           bool training_example) {
  if (spec.has_image()) {
    if (!input.has_image()) {
      return absl::InvalidArgumentError("this collection holds images; the input is not an image");
    }
    return ImageToVector(spec, input.image()).status();
  }
  if (!input.has_document()) {
    return absl::InvalidArgumentError(
        "this collection holds documents; the input is not a document");
  }
  return ValidateDocument(spec, input.document(), training_example);
}

absl::Status InputToVector(const v1::CollectionSpec& spec, const TextPipeline* text,
                           const v1::Input& input, std::vector<float>* out) {
  if (spec.has_image()) {
    if (!input.has_image()) {
      return absl::InvalidArgumentError("this collection holds images; the input is not an image");
    }
    auto x = ImageToVector(spec, input.image());
    if (!x.ok()) return x.status();
    out->insert(out->end(), x->begin(), x->end());
    return absl::OkStatus();
  }
  if (!input.has_document()) {
    return absl::InvalidArgumentError(
        "this collection holds documents; the input is not a document");
  }
  if (absl::Status s = ValidateDocument(spec, input.document(), false); !s.ok()) return s;
  if (text == nullptr) {
    return absl::FailedPreconditionError("documents need a model version's vocabulary");
  }
  return text->ToVector(input.document(), out, nullptr);
}

std::string CodeToBytes(const float* code, int64_t code_size, CodeType type) {
  if (type == CodeType::kBinary) {
    std::string bits((code_size + 7) / 8, '\0');
    for (int64_t i = 0; i < code_size; ++i) {
      if (code[i] >= 0.5f) bits[i / 8] = static_cast<char>(bits[i / 8] | (1 << (i % 8)));
    }
    return bits;
  }
  return std::string(reinterpret_cast<const char*>(code), code_size * sizeof(float));
}

std::vector<float> CodeBytesToFloats(const std::string& bytes, int64_t code_size, CodeType type) {
  std::vector<float> out(code_size);
  if (type == CodeType::kBinary) {
    for (int64_t i = 0; i < code_size; ++i) {
      out[i] = (static_cast<unsigned char>(bytes[i / 8]) >> (i % 8)) & 1 ? 1.0f : 0.0f;
    }
  } else {
    std::memcpy(out.data(), bytes.data(), code_size * sizeof(float));
  }
  return out;
}

v1::Code BytesToCode(const std::string& bytes, int64_t code_size, CodeType type) {
  v1::Code code;
  if (type == CodeType::kBinary) {
    code.mutable_binary_code()->set_bits(bytes);
    code.mutable_binary_code()->set_num_bits(static_cast<uint32_t>(code_size));
  } else {
    std::vector<float> values = CodeBytesToFloats(bytes, code_size, type);
    *code.mutable_float_code()->mutable_values() = {values.begin(), values.end()};
  }
  return code;
}

absl::StatusOr<std::string> CodeFromApi(const v1::Code& code, int64_t code_size, CodeType type) {
  if (type == CodeType::kBinary) {
    if (!code.has_binary_code()) {
      return absl::InvalidArgumentError("this model produces binary codes; send binary_code");
    }
    const v1::BinaryCode& b = code.binary_code();
    if (b.num_bits() != code_size || static_cast<int64_t>(b.bits().size()) != (code_size + 7) / 8) {
      return absl::InvalidArgumentError("binary code must have " + std::to_string(code_size) +
                                        " bits in " + std::to_string((code_size + 7) / 8) +
                                        " bytes");
    }
    // Bits past code_size in the last byte are padding: clear them, or they would count in
    // Hamming distances (stored codes, from CodeToBytes, have them zero).
    std::string bits = b.bits();
    if (code_size % 8 != 0)
      bits.back() = static_cast<char>(bits.back() & ((1 << (code_size % 8)) - 1));
    return bits;
  }
  if (!code.has_float_code()) {
    return absl::InvalidArgumentError("this model produces float codes; send float_code");
  }
  const auto& values = code.float_code().values();
  if (values.size() != code_size) {
    return absl::InvalidArgumentError("float code must have " + std::to_string(code_size) +
                                      " values, got " + std::to_string(values.size()));
  }
  for (float v : values) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("code values must be finite");
  }
  return CodeToBytes(values.data(), code_size, CodeType::kFloat);
}

absl::StatusOr<v1::Output> VectorToOutput(const v1::CollectionSpec& spec, const TextPipeline* text,
                                          const float* x, uint32_t top_words) {
  v1::Output output;
  if (spec.has_image()) {
    auto png = EncodePng(x, static_cast<int>(spec.image().height()),
                         static_cast<int>(spec.image().width()),
                         static_cast<int>(spec.image().channels()));
    if (!png.ok()) return png.status();
    output.mutable_image()->set_encoded(std::move(*png));
    return output;
  }
  if (text == nullptr) return absl::FailedPreconditionError("the model has no vocabulary");
  *output.mutable_words() = text->TopWords(x, top_words);
  return output;
}

}  // namespace bn
