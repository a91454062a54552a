// The CLI's filter expressions (`bottleneck search --filter EXPR`, list/count/delete), parsed
// into a bottleneck.v1.Filter:
//
//   expr   := or
//   or     := and ("|" and)*            -> any_of
//   and    := unary ("&" unary)*        -> all_of
//   unary  := "!" unary | "(" expr ")" | term      ("!" -> none_of)
//   term   := FIELD "=" values          equality / set membership (match)
//           | FIELD "!=" values         none_of(match)
//           | FIELD ("<" | "<=" | ">" | ">=") NUMBER     (range; FIELD a metadata key)
//   values := VALUE ("," VALUE)*
//   FIELD  := "label" (the item's label) | a metadata key | "meta:" key (a key named "label")
//   VALUE  := a bare word (no spaces or any of  ( ) ! & | , = < > " ) or a "double-quoted"
//             string with \" and \\ escapes
//
// Example: label=sneaker,boot & price<50 & !brand=acme
// The server validates the rest (declared numeric keys, nesting limits).
#ifndef BOTTLENECK_CLIENT_LIB_FILTER_EXPR_H_
#define BOTTLENECK_CLIENT_LIB_FILTER_EXPR_H_

#include <string>

#include "bottleneck/v1/common.pb.h"

namespace bn {

// Parses `text` into *filter; false with *error naming the offset on a syntax error.
bool ParseFilterExpr(const std::string& text, bottleneck::v1::Filter* filter, std::string* error);

}  // namespace bn

#endif  // BOTTLENECK_CLIENT_LIB_FILTER_EXPR_H_
