// The default recipes: the model a StartTraining request gets when its ModelSpec names no
// architecture, chosen from the collection's input kind, code kind and the dataset's size. Each
// recipe is what measured best here (bench/RESULTS-generalisation.md, bench/RESULTS-text.md);
// fields the request did set are kept.
#ifndef BOTTLENECK_SERVER_CORE_RECIPES_H_
#define BOTTLENECK_SERVER_CORE_RECIPES_H_

#include <cstdint>
#include <vector>

#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"

namespace bn {

// Fills the architecture (and the training options the recipe depends on, where unset) of a
// spec that has none; leaves a spec with an architecture unchanged. `examples` is the training
// dataset's size (0 when unknown). The result still goes through NormalizeModelSpec.
void ApplyDefaultRecipe(const bottleneck::v1::CollectionSpec& collection, uint64_t examples,
                        bottleneck::v1::ModelSpec* spec);

// The hidden layer sizes of the default recipe's encoder for the collection (images: 1000, 500,
// 250 for 256 inputs or more, else 4d, 2d, d; documents: 500, 250, 125 for a vocabulary of
// 1000 or more, else V/4, V/8, V/16, at least 8): a classifier without an encoder version gets
// them by default (ClassifierSpec.hidden_sizes), the same net as one from a default encoder.
std::vector<uint32_t> DefaultEncoderSizes(const bottleneck::v1::CollectionSpec& collection);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_RECIPES_H_
