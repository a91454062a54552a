// Step 9 of `bottleneck demo`: the pictures (client/plot), from the models on the server (Encode,
// Decode, GetItem) and the PCA models fitted by the client.
#include <algorithm>
#include <cstdio>

#include "client/demo.h"
#include "client/plot/plot.h"
#include "engine/eval/metrics.h"

namespace bn::cli::demo {

namespace {

Image RowImage(const FloatMatrix& m, int64_t row, int height, int width) {
  Image im;
  im.height = height;
  im.width = width;
  im.channels = 1;
  im.pixels.assign(m.row(row), m.row(row) + m.cols);
  return im;
}

Image ItemImage(const v1::Item& item) {
  Image im;
  const v1::RawImage& raw = item.input().image().raw();
  im.height = static_cast<int>(raw.height());
  im.width = static_cast<int>(raw.width());
  im.channels = static_cast<int>(raw.channels());
  for (unsigned char c : raw.data()) im.pixels.push_back(c / 255.0f);
  return im;
}

// Draws the plots one by one; a failed server call or plot makes ok() false.
class PlotWriter {
 public:
  PlotWriter(Client& client, const PlotInputs& in)
      : client_(client), in_(in), test_(*in.test), h_(in.test->height), w_(in.test->width) {}

  bool ok() const { return ok_; }
  size_t written() const { return written_; }

  // 2-D codes of a labelled subset of the test set, PCA-2 and the AE's side by side; keeps the
  // AE's codes for the decoder grid.
  bool Scatter();
  // Originals above reconstructions: one test image per class.
  bool Reconstructions();
  // Queries with their top-8 neighbours, images fetched from the service with GetItem.
  bool Neighbours();
  // The decoder as a generator over a grid of 2-D codes (needs Scatter's codes).
  bool DecoderGrid();
  void LossCurves();

 private:
  // Reports a written plot (or why it failed).
  void Add(const absl::Status& status, const std::string& path) {
    if (!status.ok()) {
      std::fprintf(stderr, "bottleneck: plot %s: %s\n", path.c_str(),
                   std::string(status.message()).c_str());
      ok_ = false;
      return;
    }
    std::printf("      wrote %s\n", path.c_str());
    ++written_;
  }
  bool Failed() {
    ok_ = false;
    return false;
  }

  Client& client_;
  const PlotInputs& in_;
  const LabeledImages& test_;
  const int h_, w_;
  FloatMatrix ae2_;  // AE-2 codes of the scatter subset.
  bool ok_ = true;
  size_t written_ = 0;
};

bool PlotWriter::Scatter() {
  const std::vector<std::string> names(kClassNames, kClassNames + 10);
  // 2-D codes of a labelled subset of the test set: PCA-2 and the AE's, side by side.
  const int64_t n_scatter =
      std::min<int64_t>(test_.images.rows, static_cast<int64_t>(in_.scatter_points));
  LabeledImages subset;
  subset.images = HeadRows(test_.images, n_scatter);
  subset.labels.assign(test_.labels.begin(), test_.labels.begin() + n_scatter);
  subset.height = h_;
  subset.width = w_;
  if (!EncodeRows(client_, in_.collection, subset, n_scatter, in_.v2, &ae2_)) return Failed();
  auto p2 = EncodeAll(*in_.pca2, subset.images);
  if (!p2.ok()) return Failed();
  plot::ScatterPanel pca_panel, ae_panel;
  pca_panel.title = "PCA-2";
  ae_panel.title = "auto-encoder 784-512-256-2";
  for (int64_t i = 0; i < n_scatter; ++i) {
    pca_panel.x.push_back(p2->at(i, 0));
    pca_panel.y.push_back(p2->at(i, 1));
    ae_panel.x.push_back(ae2_.at(i, 0));
    ae_panel.y.push_back(ae2_.at(i, 1));
  }
  pca_panel.labels = ae_panel.labels = subset.labels;
  plot::ScatterOptions scatter;
  scatter.title = "2-D codes of " + std::to_string(n_scatter) + " Fashion-MNIST test images";
  scatter.label_names = names;
  scatter.point_radius = n_scatter > 2000 ? 1.6 : 2.4;
  for (const char* ext : {".png", ".svg"}) {
    const std::string path = in_.out + "/codes_2d" + ext;
    Add(plot::ScatterPanels({pca_panel, ae_panel}, scatter, path), path);
  }
  return true;
}

bool PlotWriter::Reconstructions() {
  std::vector<int64_t> picks;
  for (int cls = 0; cls < 10; ++cls) {
    for (int64_t i = 0; i < test_.images.rows; ++i) {
      if (test_.labels[i] == cls) {
        picks.push_back(i);
        break;
      }
    }
  }
  FloatMatrix pick_codes30(static_cast<int64_t>(picks.size()), in_.codes30->cols);
  FloatMatrix pick_images(static_cast<int64_t>(picks.size()), test_.images.cols);
  for (size_t j = 0; j < picks.size(); ++j) {
    std::copy(in_.codes30->row(picks[j]), in_.codes30->row(picks[j]) + in_.codes30->cols,
              pick_codes30.row(j));
    std::copy(test_.images.row(picks[j]), test_.images.row(picks[j]) + test_.images.cols,
              pick_images.row(j));
  }
  // Encode (both models) then Decode on the server; PCA here.
  FloatMatrix pick_codes2;
  const LabeledImages picked{pick_images, {}, h_, w_};
  if (!EncodeRows(client_, in_.collection, picked, pick_images.rows, in_.v2, &pick_codes2)) {
    return Failed();
  }
  std::vector<Image> ae30_out, ae2_out;
  if (!DecodeRows(client_, in_.collection, pick_codes30, 0, &ae30_out) ||
      !DecodeRows(client_, in_.collection, pick_codes2, in_.v2, &ae2_out)) {
    return Failed();
  }
  FloatMatrix pca30_out(pick_images.rows, pick_images.cols),
      pca2_out(pick_images.rows, pick_images.cols);
  {
    FloatMatrix c30(pick_images.rows, 30), c2(pick_images.rows, 2);
    if (!in_.pca30->Encode(pick_images.data.data(), pick_images.rows, c30.data.data()).ok() ||
        !in_.pca30->Decode(c30.data.data(), c30.rows, pca30_out.data.data()).ok() ||
        !in_.pca2->Encode(pick_images.data.data(), pick_images.rows, c2.data.data()).ok() ||
        !in_.pca2->Decode(c2.data.data(), c2.rows, pca2_out.data.data()).ok()) {
      std::fprintf(stderr, "bottleneck: PCA reconstruction failed\n");
      return Failed();
    }
  }
  std::vector<plot::GridRow> rows(5);
  rows[0].caption = "original";
  rows[1].caption = "AE-30 (server)";
  rows[2].caption = "PCA-30";
  rows[3].caption = "AE-2 (server)";
  rows[4].caption = "PCA-2";
  for (size_t j = 0; j < picks.size(); ++j) {
    rows[0].cells.push_back({RowImage(pick_images, j, h_, w_), "", std::nullopt});
    rows[1].cells.push_back({ae30_out[j], "", std::nullopt});
    rows[2].cells.push_back({RowImage(pca30_out, j, h_, w_), "", std::nullopt});
    rows[3].cells.push_back({ae2_out[j], "", std::nullopt});
    rows[4].cells.push_back({RowImage(pca2_out, j, h_, w_), "", std::nullopt});
  }
  plot::ImageGridOptions grid;
  grid.title = "Originals and reconstructions from 30 and from 2 numbers";
  for (int64_t p : picks) grid.column_captions.push_back(kClassNames[test_.labels[p]]);
  {
    const std::string path = in_.out + "/reconstructions.png";
    Add(plot::ImageGrid(rows, grid, path), path);
  }
  return true;
}

bool PlotWriter::Neighbours() {
  std::vector<plot::GridRow> qrows;
  for (size_t q = 0; q < in_.queries.size(); ++q) {
    plot::GridRow row;
    const std::string label = kClassNames[test_.labels[in_.queries[q]]];
    row.caption = "query test-" + std::to_string(in_.queries[q]);
    row.cells.push_back({RowImage(test_.images, in_.queries[q], h_, w_), label, std::nullopt});
    for (const auto& n : (*in_.query_results)[q].neighbors()) {
      v1::GetItemRequest get;
      get.set_collection(in_.collection);
      get.set_id(n.id());
      v1::GetItemResponse item;
      grpc::Status s = client_.items().GetItem(client_.Context().get(), get, &item);
      if (!s.ok()) {
        Fail("get item", s);
        return Failed();
      }
      char distance[32];
      std::snprintf(distance, sizeof(distance), "%.3g", n.distance());
      row.cells.push_back({ItemImage(item.item()), n.label() + " " + distance,
                           n.label() == label ? plot::PaletteColor(2) : plot::PaletteColor(3)});
    }
    qrows.push_back(std::move(row));
  }
  plot::ImageGridOptions qgrid;
  qgrid.title =
      "Search: each query and its 8 nearest items (green: same label), with squared L2 distances";
  {
    const std::string path = in_.out + "/neighbours.png";
    Add(plot::ImageGrid(qrows, qgrid, path), path);
  }
  return true;
}

bool PlotWriter::DecoderGrid() {
  // The decoder as a generator over a grid of 2-D codes spanning the test codes (2nd to 98th
  // percentile on each axis); top row = largest y, as in the scatter plot.
  constexpr int kGrid = 12;
  std::vector<float> xs, ys;
  for (int64_t i = 0; i < ae2_.rows; ++i) {
    xs.push_back(ae2_.at(i, 0));
    ys.push_back(ae2_.at(i, 1));
  }
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  auto pct = [](const std::vector<float>& v, double q) {
    return v[static_cast<size_t>(q * (v.size() - 1))];
  };
  const double x0 = pct(xs, 0.02), x1 = pct(xs, 0.98), y0 = pct(ys, 0.02), y1 = pct(ys, 0.98);
  FloatMatrix grid_codes(kGrid * kGrid, 2);
  for (int r = 0; r < kGrid; ++r) {
    for (int c = 0; c < kGrid; ++c) {
      grid_codes.at(r * kGrid + c, 0) = static_cast<float>(x0 + (x1 - x0) * c / (kGrid - 1));
      grid_codes.at(r * kGrid + c, 1) = static_cast<float>(y1 - (y1 - y0) * r / (kGrid - 1));
    }
  }
  std::vector<Image> generated;
  if (!DecodeRows(client_, in_.collection, grid_codes, in_.v2, &generated)) return Failed();
  std::vector<plot::GridRow> grows(kGrid);
  plot::ImageGridOptions ggrid;
  ggrid.title = "The 2-D model's decoder over a grid of codes (x across, y down)";
  ggrid.scale = 2;
  ggrid.gap = 2;
  for (int c = 0; c < kGrid; ++c) {
    ggrid.column_captions.push_back(Fixed(x0 + (x1 - x0) * c / (kGrid - 1), 1));
  }
  for (int r = 0; r < kGrid; ++r) {
    grows[r].caption = Fixed(y1 - (y1 - y0) * r / (kGrid - 1), 1);
    for (int c = 0; c < kGrid; ++c) {
      grows[r].cells.push_back({generated[r * kGrid + c], "", std::nullopt});
    }
  }
  {
    const std::string path = in_.out + "/decoder_grid.png";
    Add(plot::ImageGrid(grows, ggrid, path), path);
  }
  return true;
}

void PlotWriter::LossCurves() {
  std::vector<plot::Series> rbm;
  plot::Series finetune30{"AE-30 training loss", {}, {}}, finetune2{"AE-2 training loss", {}, {}};
  plot::Series val30{"AE-30", {}, {}}, val2{"AE-2", {}, {}};
  for (const std::string& phase : in_.curves30->phases) {
    if (phase.rfind("RBM", 0) != 0) continue;
    rbm.push_back({phase, {}, {}});
    for (const auto& [epoch, loss] : LossOf(*in_.curves30, phase)) {
      rbm.back().x.push_back(epoch);
      rbm.back().y.push_back(loss);
    }
  }
  for (const auto& [epoch, loss] : LossOf(*in_.curves30, "fine-tune")) {
    finetune30.x.push_back(epoch);
    finetune30.y.push_back(loss);
  }
  for (const auto& [epoch, loss] : LossOf(*in_.curves2, "fine-tune")) {
    finetune2.x.push_back(epoch);
    finetune2.y.push_back(loss);
  }
  for (const auto& [epoch, v] : in_.curves30->validation) {
    val30.x.push_back(epoch);
    val30.y.push_back(v);
  }
  for (const auto& [epoch, v] : in_.curves2->validation) {
    val2.x.push_back(epoch);
    val2.y.push_back(v);
  }
  auto chart = [&](const std::vector<plot::Series>& series, const std::string& file,
                   const std::string& title, const std::string& y_label) {
    std::vector<plot::Series> present;
    for (const auto& s : series) {
      if (!s.x.empty()) present.push_back(s);
    }
    if (present.empty()) return;
    plot::LineChartOptions options;
    options.title = title;
    options.x_label = "epoch";
    options.integer_x = true;
    options.y_label = y_label;
    for (const char* ext : {".png", ".svg"}) {
      const std::string path = in_.out + "/" + file + ext;
      Add(plot::LineChart(present, options, path), path);
    }
  };
  chart(rbm, "loss_pretraining", "RBM pre-training of 784-1000-500-250-30 (CD-1)",
        "reconstruction error");
  chart({finetune30}, "loss_finetune_ae30", "Fine-tuning 784-1000-500-250-30",
        "cross-entropy per image (training)");
  chart({finetune2}, "loss_ae2", "Training 784-512-256-2", "cross-entropy per image (training)");
  // Validation error per epoch with the job's PCA baselines as flat lines.
  auto flat = [](const plot::Series& like, const std::string& label, double value) {
    plot::Series s{label, like.x, std::vector<double>(like.x.size(), value)};
    return s;
  };
  chart({val30, flat(val30, "PCA-30", in_.model30->report().pca_reconstruction_error()), val2,
         flat(val2, "PCA-2", in_.model2->report().pca_reconstruction_error())},
        "validation_error", "Validation error: auto-encoders vs PCA of the same code size",
        "squared error per image");
}

}  // namespace

bool WritePlots(Client& client, const PlotInputs& in, size_t* written) {
  PlotWriter writer(client, in);
  // Each step reports its own errors; the ones after a failed server call still run when they
  // do not depend on it.
  if (writer.Scatter()) writer.DecoderGrid();
  writer.Reconstructions();
  writer.Neighbours();
  writer.LossCurves();
  *written = writer.written();
  return writer.ok();
}

}  // namespace bn::cli::demo
