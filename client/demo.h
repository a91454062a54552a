// Internal to `bottleneck demo` (client/commands_demo.cc tells the story, client/demo_plots.cc
// draws its pictures): the pieces both files use. Not a library API; single-threaded.
#ifndef BOTTLENECK_CLIENT_DEMO_H_
#define BOTTLENECK_CLIENT_DEMO_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/cli.h"
#include "engine/data/idx.h"
#include "engine/input/image.h"
#include "engine/model/pca.h"
#include "engine/util/matrix.h"

namespace bn::cli::demo {

// Fashion-MNIST's class names by label 0..9.
extern const char* const kClassNames[10];

// "%.*f".
std::string Fixed(double v, int decimals);

// Per-epoch curves recorded from WatchJob's progress stream, by phase name ("RBM layer 1/4",
// "fine-tune"; phase indexes are not unique across a job's reports).
struct Curves {
  std::vector<std::string> phases;                    // In the order first seen.
  std::map<std::string, std::map<int, double>> loss;  // phase -> epoch -> mean loss
  std::map<int, double> validation;                   // fine-tune epoch -> validation error
};

// The epochs' losses of `phase` (empty if it never reported an epoch).
const std::map<int, double>& LossOf(const Curves& curves, const std::string& phase);

// Encodes rows [0, rows) of data.images on the server with model `version` (0: the serving one),
// in batches, into `codes` (rows x code size). False, after printing the error, on failure.
bool EncodeRows(Client& client, const std::string& collection, const LabeledImages& data,
                int64_t rows, uint64_t version, FloatMatrix* codes);

// Decodes every row of `codes` on the server with model `version` into images (appended).
bool DecodeRows(Client& client, const std::string& collection, const FloatMatrix& codes,
                uint64_t version, std::vector<Image>* images);

// What step 9 draws from. Pointers are borrowed for the call.
struct PlotInputs {
  std::string out;                       // Folder the files go to (exists).
  std::string collection;                // Serving the AE-30 model; also holds the 2-D model v2.
  const LabeledImages* test = nullptr;   // The upserted test images (ids test-N) and labels.
  const FloatMatrix* codes30 = nullptr;  // AE-30 codes of every test image.
  const PcaModel* pca30 = nullptr;       // Fitted on the training images.
  const PcaModel* pca2 = nullptr;        // Fitted on the 2-D model's training images.
  uint64_t v2 = 0;                       // The 2-D model's version (not serving).
  std::vector<int64_t> queries;          // Test rows searched in step 6 ...
  const std::vector<v1::SearchResponse>* query_results = nullptr;  // ... and their results.
  const Curves* curves30 = nullptr;
  const Curves* curves2 = nullptr;
  const v1::Model* model30 = nullptr;
  const v1::Model* model2 = nullptr;
  int64_t scatter_points = 5000;  // Test images in the 2-D scatter plot.
};

// Step 9: writes every plot into in.out, printing each path. Returns false (after printing why)
// if a server call or a plot failed; `written` counts the files written either way.
bool WritePlots(Client& client, const PlotInputs& in, size_t* written);

}  // namespace bn::cli::demo

#endif  // BOTTLENECK_CLIENT_DEMO_H_
