#include "engine/train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "engine/util/bytes.h"

// Format (every field little-endian, engine/util/bytes.h):
//   "BNCKPT01" | Str spec | I64 epoch | Floats params | optimiser state (Optimizer::SaveState)
//   | Str rng state (operator<< of std::mt19937_64) | F64 best | I64 since_best
//   | Floats best_params | F64 validation_error | F64 train_loss | U32 CRC-32 of all before it
// `spec` identifies the model (Trainable::SpecBytes); a checkpoint only resumes the same one.

namespace bn {
namespace {

constexpr char kCheckpointMagic[8] = {'B', 'N', 'C', 'K', 'P', 'T', '0', '1'};

}  // namespace

std::string EncodeTrainingCheckpoint(absl::string_view spec, const TrainingCheckpoint& state,
                                     const Optimizer& optimizer) {
  std::string out(kCheckpointMagic, sizeof(kCheckpointMagic));
  ByteWriter w(&out);
  w.Str(spec);
  w.I64(state.epoch);
  w.Floats(state.params);
  optimizer.SaveState(&w);
  std::ostringstream rs;
  rs << state.rng;
  w.Str(rs.str());
  w.F64(state.best);
  w.I64(state.since_best);
  w.Floats(state.best_params);
  w.F64(state.validation_error);
  w.F64(state.train_loss);
  w.U32(Crc32(out));
  return out;
}

absl::Status DecodeTrainingCheckpoint(absl::string_view bytes, absl::string_view spec,
                                      int64_t parameter_count, Optimizer* optimizer,
                                      TrainingCheckpoint* state) {
  if (bytes.size() < sizeof(kCheckpointMagic) + 4 ||
      std::memcmp(bytes.data(), kCheckpointMagic, sizeof(kCheckpointMagic)) != 0) {
    return absl::DataLossError("not a training checkpoint");
  }
  uint32_t crc = 0;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (Crc32(bytes.substr(0, bytes.size() - 4)) != crc) {
    return absl::DataLossError("checkpoint checksum mismatch");
  }
  ByteReader r(bytes.substr(sizeof(kCheckpointMagic), bytes.size() - 4 - sizeof(kCheckpointMagic)));
  std::string stored_spec, rng_state;
  if (!r.Str(&stored_spec)) return absl::DataLossError("checkpoint truncated");
  if (stored_spec != spec) return absl::InvalidArgumentError("checkpoint belongs to another spec");
  const uint64_t count = static_cast<uint64_t>(std::max<int64_t>(parameter_count, 0));
  if (!r.I64(&state->epoch) || state->epoch < 0 || !r.Floats(&state->params, count) ||
      state->params.size() != count) {
    return absl::DataLossError("checkpoint weights truncated");
  }
  if (!optimizer->LoadState(&r)) {
    return absl::InvalidArgumentError("checkpoint optimiser state does not match");
  }
  if (!r.Str(&rng_state) || !r.F64(&state->best) || !r.I64(&state->since_best) ||
      state->since_best < 0 || !r.Floats(&state->best_params, count) ||
      (!state->best_params.empty() && state->best_params.size() != count) ||
      !r.F64(&state->validation_error) || !r.F64(&state->train_loss) || !r.at_end()) {
    return absl::DataLossError("checkpoint truncated");
  }
  std::istringstream rs(rng_state);
  rs >> state->rng;
  if (rs.fail()) return absl::DataLossError("checkpoint random state corrupt");
  return absl::OkStatus();
}

}  // namespace bn
