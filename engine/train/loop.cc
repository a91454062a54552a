#include "engine/train/loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <utility>

#include "engine/nn/context.h"
#include "engine/train/checkpoint.h"
#include "engine/util/log.h"

namespace bn {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

absl::Status CheckExamples(const Examples& e, int64_t width, const char* what) {
  const FloatMatrix* x = e.x;
  if (x == nullptr || x->rows < 0 || x->cols != width ||
      static_cast<int64_t>(x->data.size()) != x->rows * x->cols) {
    return absl::InvalidArgumentError(std::string(what) + " matrix has the wrong shape");
  }
  if ((e.labels != nullptr && static_cast<int64_t>(e.labels->size()) != x->rows) ||
      (e.lengths != nullptr && static_cast<int64_t>(e.lengths->size()) != x->rows)) {
    return absl::InvalidArgumentError(std::string("one label / length per ") + what + " row");
  }
  return absl::OkStatus();
}

// A seeded validation split of the training rows; `train` and `validation` point into it, so it
// stays where it is built.
struct HeldOut {
  FloatMatrix train_x, validation_x;
  std::vector<int> train_labels, validation_labels;
  std::vector<float> train_lengths;
  Examples train, validation;
};

// Holds out `fraction` of `all` (a seeded permutation: its first rows validate, the rest train,
// in permutation order). False when that leaves no row on either side.
bool HoldOut(const Examples& all, double fraction, uint64_t seed, HeldOut* out) {
  const FloatMatrix& x = *all.x;
  std::vector<int64_t> idx(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) idx[i] = i;
  std::mt19937_64 split_rng(seed ^ 0x5eedull);
  Shuffle(&idx, &split_rng);
  const int64_t nv = static_cast<int64_t>(fraction * x.rows);
  if (nv < 1 || nv >= x.rows) return false;
  out->validation_x = FloatMatrix(nv, x.cols);
  out->train_x = FloatMatrix(x.rows - nv, x.cols);
  for (int64_t i = 0; i < x.rows; ++i) {
    const bool held = i < nv;
    std::copy_n(x.row(idx[i]), x.cols, held ? out->validation_x.row(i) : out->train_x.row(i - nv));
    if (all.labels != nullptr) {
      (held ? out->validation_labels : out->train_labels).push_back((*all.labels)[idx[i]]);
    }
    if (all.lengths != nullptr && !held) out->train_lengths.push_back((*all.lengths)[idx[i]]);
  }
  out->train = {&out->train_x, all.labels != nullptr ? &out->train_labels : nullptr,
                all.lengths != nullptr ? &out->train_lengths : nullptr};
  out->validation = {&out->validation_x, all.labels != nullptr ? &out->validation_labels : nullptr,
                     nullptr};
  return true;
}

}  // namespace

absl::StatusOr<TrainResult> RunTrainingLoop(const Examples& train_in, const Examples* validation_in,
                                            const TrainOptions& options,
                                            const LoopSettings& settings,
                                            const ProgressCallback& progress,
                                            const CancellationFlag* cancel, Trainable* model) {
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  const int64_t width = train_in.x != nullptr ? train_in.x->cols : 0;
  if (absl::Status s = CheckExamples(train_in, width, "training"); !s.ok()) return s;
  if (train_in.x->rows < 1) return absl::InvalidArgumentError("no training rows");
  if (validation_in != nullptr) {
    if (absl::Status s = CheckExamples(*validation_in, width, "validation"); !s.ok()) return s;
  }
  const auto start = Clock::now();
  SetNnThreads(options.threads);
  HeldOut held_out;
  const Examples* train = &train_in;
  const Examples* validation = validation_in;
  if (validation == nullptr && options.validation_fraction > 0 &&
      HoldOut(train_in, options.validation_fraction, options.seed, &held_out)) {
    train = &held_out.train;
    validation = &held_out.validation;
  }
  FloatMatrix targets, validation_targets;
  if (settings.targets) {
    auto made = settings.targets(*train->x, nullptr);
    if (!made.ok()) return made.status();
    targets = std::move(*made);
    if (validation != nullptr) {
      auto held = settings.targets(*validation->x, train->x);
      if (!held.ok()) return held.status();
      validation_targets = std::move(*held);
    }
    const auto shaped = [width](const FloatMatrix& t, const FloatMatrix& x) {
      return t.rows == x.rows && t.cols == width &&
             static_cast<int64_t>(t.data.size()) == t.rows * t.cols;
    };
    if (!shaped(targets, *train->x) ||
        (validation != nullptr && !shaped(validation_targets, *validation->x))) {
      return absl::InternalError("reconstruction targets have the wrong shape");
    }
  }
  if (settings.pretrain && options.resume_from == nullptr) {
    if (absl::Status s = settings.pretrain(*train); !s.ok()) return s;
  }

  OptimizerOptions oo;
  oo.kind = options.optimizer;
  oo.learning_rate = options.learning_rate;
  oo.momentum = options.momentum;
  oo.weight_decay = options.weight_decay;
  Optimizer optimizer(oo);
  model->RegisterParameters(&optimizer);

  const FloatMatrix& x = *train->x;
  const int64_t n = x.rows;
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const int64_t steps = (n + batch - 1) / batch;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::mt19937_64 rng(options.seed + 1);
  BatchBuffers buffers(batch, x.cols, settings.noise, train->labels != nullptr);
  TrainResult result;
  // The loop's state, and what checkpoints save (params only while encoding).
  TrainingCheckpoint st;
  st.rng = rng;
  st.best = INFINITY;
  const std::string spec_bytes = model->SpecBytes();
  if (options.resume_from != nullptr) {
    if (absl::Status s = DecodeTrainingCheckpoint(*options.resume_from, spec_bytes,
                                                  model->parameter_count(), &optimizer, &st);
        !s.ok()) {
      return s;
    }
    model->SetFlatParameters(st.params);
    st.params.clear();
    st.epoch = std::min<int64_t>(st.epoch, 1 << 30);
    rng = st.rng;
    result.validation_error = st.validation_error;
    result.train_loss = st.train_loss;
    result.epochs_run = static_cast<int>(st.epoch);
  }

  // Progress: samples per second and the ETA count fine-tuning only (not pre-training, not the
  // epochs before a resume); elapsed_seconds counts the whole call.
  const auto finetune_start = Clock::now();
  auto last_report = finetune_start;
  int64_t samples_done = 0;
  const double resumed_samples = static_cast<double>(st.epoch) * static_cast<double>(n);
  auto report = [&](int epoch, int64_t step, double loss) {
    TrainingProgress p;
    p.phase = "fine-tune";
    p.phase_index = settings.phase_count;
    p.phase_count = settings.phase_count;
    p.epoch = epoch;
    p.epochs = options.epochs;
    p.step = step;
    p.steps_per_epoch = steps;
    p.loss = loss;
    p.validation_error = result.validation_error;
    p.samples_per_second = samples_done / std::max(SecondsSince(finetune_start), 1e-9);
    p.eta_seconds = (static_cast<double>(options.epochs) * n - resumed_samples - samples_done) /
                    std::max(p.samples_per_second, 1e-9);
    p.elapsed_seconds = SecondsSince(start);
    progress(p);
  };

  // Augmentation draws from its own random state, a function of (seed, epoch, step) only, so it
  // leaves the loop's draws (order, corruption, noise) as they are without augmentation.
  std::mt19937_64 augment_rng;
  std::function<void(float*, int64_t)> augment;
  if (options.augment) {
    augment = [&](float* rows, int64_t m) { options.augment(rows, m, &augment_rng); };
  }
  bool out_of_time = false;
  for (int epoch = result.epochs_run + 1; epoch <= options.epochs && !out_of_time; ++epoch) {
    optimizer.options().learning_rate = LearningRateAt(options, epoch);
    // A fresh permutation each epoch depends only on the random state (so resuming works).
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    Shuffle(&order, &rng);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      if (cancel != nullptr && cancel->cancelled()) {
        return absl::CancelledError("training cancelled");
      }
      const int64_t b0 = step * batch, m = std::min(batch, n - b0);
      augment_rng.seed(options.seed ^ (0xa06ull << 40) ^ (uint64_t(epoch) << 20) ^ uint64_t(step));
      TrainBatch b =
          PrepareBatch(x, train->labels, order.data() + b0, m, settings.noise, &rng, &buffers,
                       augment ? &augment : nullptr, settings.targets ? &targets : nullptr);
      b.step_seed = options.seed ^ (0xd20ull << 40) ^ (uint64_t(epoch) << 20) ^ uint64_t(step);
      double loss = 0;
      if (absl::Status s = model->TrainStep(b, &optimizer, &loss); !s.ok()) return s;
      if (!std::isfinite(loss)) {
        return absl::InternalError("training diverged (non-finite loss); lower the learning rate");
      }
      loss_sum += loss * static_cast<double>(m);
      seen += m;
      samples_done += m;
      if (options.max_seconds > 0 && SecondsSince(finetune_start) > options.max_seconds) {
        out_of_time = true;  // The partial epoch still validates, checkpoints and reports.
        break;
      }
      const auto now = Clock::now();
      if (progress && step + 1 < steps && now - last_report > std::chrono::milliseconds(250)) {
        last_report = now;
        report(epoch, step + 1, loss_sum / static_cast<double>(seen));
      }
    }
    result.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0;
    result.epochs_run = epoch;
    st.epoch = epoch;
    bool stop = false;
    if (validation != nullptr && validation->x->rows > 0) {
      auto err = settings.targets ? model->EvaluateAgainst(*validation->x, validation_targets)
                                  : model->Evaluate(*validation->x, validation->labels);
      if (!err.ok()) return err.status();
      result.validation_error = *err;
      if (*err < st.best) {
        st.best = *err;
        st.since_best = 0;
        if (options.restore_best || options.early_stopping_patience > 0) {
          st.best_params = model->FlatParameters();
        }
      } else if (++st.since_best >= options.early_stopping_patience &&
                 options.early_stopping_patience > 0) {
        BN_LOG(INFO) << "early stopping after epoch " << epoch;
        stop = true;
      }
    }
    if (options.on_checkpoint && (!options.want_checkpoint || options.want_checkpoint())) {
      st.params = model->FlatParameters();
      st.rng = rng;
      st.validation_error = result.validation_error;
      st.train_loss = result.train_loss;
      options.on_checkpoint(EncodeTrainingCheckpoint(spec_bytes, st, optimizer));
      st.params.clear();
    }
    if (progress) report(epoch, steps, result.train_loss);
    if (stop) break;
  }
  // The best epoch's parameters, if a later epoch was worse.
  if (validation != nullptr) result.best_epoch = result.epochs_run;
  if (!st.best_params.empty() && st.best < result.validation_error) {
    model->SetFlatParameters(st.best_params);
    result.validation_error = st.best;
    result.best_epoch = result.epochs_run - static_cast<int>(st.since_best);
  }
  return result;
}

}  // namespace bn
