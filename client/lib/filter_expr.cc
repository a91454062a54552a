#include "client/lib/filter_expr.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr int kMaxDepth = 64;  // Parser recursion; the server's limit is lower.

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  bool Parse(v1::Filter* out, std::string* error) {
    const bool ok = Or(out, 0) && (Skip(), pos_ == s_.size() || Fail("unexpected input"));
    if (!ok) *error = error_;
    return ok;
  }

 private:
  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(pos_);
    return false;
  }
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool Eat(const char* token) {
    Skip();
    const size_t n = std::strlen(token);
    if (s_.compare(pos_, n, token) != 0) return false;
    pos_ += n;
    return true;
  }
  static bool Special(char c) { return std::strchr(" \t()!&|,=<>\"", c) != nullptr; }

  bool Word(std::string* out) {
    Skip();
    out->clear();
    if (pos_ < s_.size() && s_[pos_] == '"') {
      for (++pos_; pos_ < s_.size() && s_[pos_] != '"'; ++pos_) {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        out->push_back(s_[pos_]);
      }
      if (pos_ >= s_.size()) return Fail("unterminated string");
      ++pos_;
      return true;
    }
    while (pos_ < s_.size() && !Special(s_[pos_])) out->push_back(s_[pos_++]);
    return !out->empty() || Fail("expected a field or value");
  }

  bool Or(v1::Filter* out, int depth) {
    if (depth > kMaxDepth) return Fail("expression nested too deeply");
    v1::Filter first;
    if (!And(&first, depth)) return false;
    if (!Eat("|")) {
      *out = std::move(first);
      return true;
    }
    auto* list = out->mutable_any_of();
    *list->add_filters() = std::move(first);
    do {
      if (!And(list->add_filters(), depth)) return false;
    } while (Eat("|"));
    return true;
  }

  bool And(v1::Filter* out, int depth) {
    v1::Filter first;
    if (!Unary(&first, depth)) return false;
    if (!Eat("&")) {
      *out = std::move(first);
      return true;
    }
    auto* list = out->mutable_all_of();
    *list->add_filters() = std::move(first);
    do {
      if (!Unary(list->add_filters(), depth)) return false;
    } while (Eat("&"));
    return true;
  }

  bool Unary(v1::Filter* out, int depth) {
    if (depth > kMaxDepth) return Fail("expression nested too deeply");
    Skip();
    if (pos_ < s_.size() && s_[pos_] == '!' && !(pos_ + 1 < s_.size() && s_[pos_ + 1] == '=')) {
      ++pos_;
      return Unary(out->mutable_none_of(), depth + 1);
    }
    if (Eat("(")) {
      if (!Or(out, depth + 1)) return false;
      return Eat(")") || Fail("expected ')'");
    }
    return Term(out);
  }

  bool Term(v1::Filter* out) {
    std::string field;
    if (!Word(&field)) return false;
    for (const char* op : {"!=", "<=", ">=", "=", "<", ">"}) {
      if (!Eat(op)) continue;
      const std::string o = op;
      if (o == "=" || o == "!=") {
        v1::FieldMatch* m =
            o == "=" ? out->mutable_match() : out->mutable_none_of()->mutable_match();
        if (field == "label") {
          m->set_label(true);
        } else {
          m->set_metadata_key(field.rfind("meta:", 0) == 0 ? field.substr(5) : field);
        }
        do {
          if (!Word(m->add_values())) return false;
        } while (Eat(","));
        return true;
      }
      std::string number;
      if (!Word(&number)) return false;
      // As the server's ParseFiniteNumber: an underflow (ERANGE) is a number, an overflow is not.
      char* end = nullptr;
      const double v = std::strtod(number.c_str(), &end);
      if (*end != '\0' || !std::isfinite(v)) {
        return Fail("'" + number + "' is not a number");
      }
      v1::NumericRange* r = out->mutable_range();
      r->set_metadata_key(field.rfind("meta:", 0) == 0 ? field.substr(5) : field);
      if (o == "<") r->set_lt(v);
      if (o == "<=") r->set_lte(v);
      if (o == ">") r->set_gt(v);
      if (o == ">=") r->set_gte(v);
      return true;
    }
    return Fail("expected = != < <= > or >= after '" + field + "'");
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

bool ParseFilterExpr(const std::string& text, v1::Filter* filter, std::string* error) {
  filter->Clear();
  return Parser(text).Parse(filter, error);
}

}  // namespace bn
