#include "client/lib/filter_expr.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace bn {
namespace {

std::string Parsed(const std::string& text) {
  bottleneck::v1::Filter f;
  std::string error;
  EXPECT_TRUE(ParseFilterExpr(text, &f, &error)) << text << ": " << error;
  return f.ShortDebugString();
}

TEST(FilterExprTest, ParsesTermsAndPrecedence) {
  EXPECT_EQ(Parsed("label=shoe"), "match { label: true values: \"shoe\" }");
  EXPECT_EQ(Parsed("colour = red, \"dark blue\""),
            "match { metadata_key: \"colour\" values: \"red\" values: \"dark blue\" }");
  EXPECT_EQ(Parsed("meta:label!=x"), "none_of { match { metadata_key: \"label\" values: \"x\" } }");
  EXPECT_EQ(Parsed("price<50"), "range { metadata_key: \"price\" lt: 50 }");
  EXPECT_EQ(Parsed("price>=1.5"), "range { metadata_key: \"price\" gte: 1.5 }");
  // Below the smallest normal double (strtod's ERANGE) is still a number; above DBL_MAX is not.
  bottleneck::v1::Filter tiny;
  std::string error;
  ASSERT_TRUE(ParseFilterExpr("price>2.2250738585072014e-309", &tiny, &error)) << error;
  EXPECT_EQ(tiny.range().gt(), std::strtod("2.2250738585072014e-309", nullptr));
  EXPECT_GT(tiny.range().gt(), 0);
  // & binds tighter than |; ! applies to the next unary.
  EXPECT_EQ(Parsed("a=1 | b=2 & !c=3"),
            "any_of { filters { match { metadata_key: \"a\" values: \"1\" } } filters { all_of { "
            "filters { match { metadata_key: \"b\" values: \"2\" } } filters { none_of { match { "
            "metadata_key: \"c\" values: \"3\" } } } } } }");
  EXPECT_EQ(Parsed("(a=1 | b=2) & c<3"),
            "all_of { filters { any_of { filters { match { metadata_key: \"a\" values: \"1\" } } "
            "filters { match { metadata_key: \"b\" values: \"2\" } } } } filters { range { "
            "metadata_key: \"c\" lt: 3 } } }");
}

TEST(FilterExprTest, RejectsMalformedExpressions) {
  for (const char* bad : {"", "label", "label=", "a=1 &", "(a=1", "a=1)", "price<cheap",
                          "price<inf", "price<1e309", "a=\"open", "a=1 b=2", "=1"}) {
    bottleneck::v1::Filter f;
    std::string error;
    EXPECT_FALSE(ParseFilterExpr(bad, &f, &error)) << bad;
    EXPECT_NE(error.find("at offset"), std::string::npos) << bad << ": " << error;
  }
}

}  // namespace
}  // namespace bn
