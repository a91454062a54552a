"""ModelSpec messages from keyword arguments (Client.train and Client.start_training).

Architecture, exactly one of (none: the server's default recipe for the collection):
  pca=K, lsa=K (documents)
  dense=[1000, 500, 250] with code_size, decoder, activation, code_activation, tied, pretrain
  (True or epochs per layer), denoise, contractive, code_noise, gaussian (images: standardised
  pixels, linear output, Gaussian visible units for the first RBM), neighbours and
  neighbour_weight (documents: each training document's target mixes in its K nearest training
  documents', weight 0.7 by default; the default recipe uses 20)
  conv=[32, 64] (filters per layer) with kernel (3), stride (1), pool (2; 0 = none), each an int
  for every layer or a list per layer, conv_dense=[256], unpooling ("repeat" or "switches"),
  code_size, activation, denoise, code_noise
  classifier=True or a dict of ClassifierSpec fields: a softmax classifier over the dataset's
  labels (Client.classify serves it), e.g. classifier={"encoder_model_version": 1,
  "hidden_sizes": [64], "hidden_activation": "relu", "freeze_encoder": True, "encoder_layers": 2}
denoise is ("masking" | "gaussian" | "salt_and_pepper", level) or just the kind (level 0.3).
code_noise is the std-dev of the code units' noise of binary codes (collections with binary
codes; the server's default is 4).
Training options: epochs, batch_size, learning_rate, optimizer ("adam" | "sgd"), momentum,
weight_decay, seed, validation_fraction, validation ("random" | "by_label"), patience,
keep_last_epoch (every epoch, the last one kept: no early stopping or best-epoch restore),
lr_schedule ("constant" | "step" | "cosine"), lr_step_epochs, lr_step_gamma, lr_min_factor,
dropout (dense auto-encoders and classifiers: the fraction of hidden units dropped per step),
augmentation (a dict of ImageAugmentation fields, e.g. {"max_shift_pixels": 2}).
Documents: text (a dict of TextOptions fields, e.g. {"keep_headers": True}).
Anything else: build a model_pb2.ModelSpec yourself and pass spec=.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

from bottleneck_client._proto.bottleneck.v1 import model_pb2
from bottleneck_client.errors import invalid

IntOrList = Union[int, Sequence[int]]

_TRAINING = {
    "epochs": "epochs", "batch_size": "batch_size", "learning_rate": "learning_rate",
    "momentum": "momentum", "weight_decay": "weight_decay", "seed": "seed",
    "validation_fraction": "validation_fraction", "patience": "early_stopping_patience",
    "lr_step_epochs": "lr_step_epochs", "lr_step_gamma": "lr_step_gamma",
    "lr_min_factor": "lr_min_factor", "dropout": "dropout", "keep_last_epoch": "keep_last_epoch",
}
_ARCHITECTURE = ("code_size", "decoder", "activation", "code_activation", "tied", "pretrain",
                 "denoise", "contractive", "code_noise", "gaussian", "kernel", "stride", "pool",
                 "conv_dense", "unpooling", "neighbours", "neighbour_weight")


def _enum(enum_type: Any, prefix: str, value: str, what: str) -> int:
    name = prefix + str(value).upper().replace("-", "_")
    if name not in enum_type.keys():
        choices = ", ".join(k[len(prefix):].lower() for k in enum_type.keys()
                            if not k.endswith("UNSPECIFIED"))
        raise invalid(f"{what}: unknown value {value!r} (one of {choices})")
    return enum_type.Value(name)


def _per_layer(value: IntOrList, layers: int, what: str) -> Sequence[int]:
    values = [value] * layers if isinstance(value, int) else list(value)
    if len(values) != layers:
        raise invalid(f"{what}: one value per conv layer ({layers}), got {len(values)}")
    return values


def _denoising(message: Any, denoise: Any) -> None:
    kind, level = (denoise, 0.3) if isinstance(denoise, str) else denoise
    message.corruption = _enum(model_pb2.Corruption, "CORRUPTION_", kind, "denoise")
    message.level = float(level)


def _dense(spec: model_pb2.ModelSpec, sizes: Sequence[int], a: Dict[str, Any]) -> None:
    d = spec.dense
    d.encoder_sizes.extend(sizes)
    d.code_size = a.get("code_size") or 30
    d.decoder_sizes.extend(a.get("decoder") or [])
    if a.get("activation"):
        d.hidden_activation = _enum(model_pb2.Activation, "ACTIVATION_", a["activation"],
                                    "activation")
    if a.get("code_activation"):
        d.code_activation = _enum(model_pb2.Activation, "ACTIVATION_", a["code_activation"],
                                  "code_activation")
    d.tied_weights = bool(a.get("tied"))
    d.gaussian_visible = bool(a.get("gaussian"))
    pretrain = a.get("pretrain")
    if pretrain:
        d.pretraining.enabled = True
        if not isinstance(pretrain, bool):
            d.pretraining.epochs_per_layer = int(pretrain)
    if a.get("denoise"):
        _denoising(d.denoising, a["denoise"])
    if a.get("contractive"):
        setattr(d.contractive, "lambda", float(a["contractive"]))  # a Python keyword
    if a.get("code_noise") is not None:
        d.binary.noise_stddev = float(a["code_noise"])
    if a.get("neighbours") or a.get("neighbour_weight"):
        d.neighbour_targets.count = int(a.get("neighbours") or 0)
        d.neighbour_targets.weight = float(a.get("neighbour_weight") or 0)


def _conv(spec: model_pb2.ModelSpec, filters: Sequence[int], a: Dict[str, Any]) -> None:
    c = spec.conv
    n = len(filters)
    kernels = _per_layer(a.get("kernel") or 3, n, "kernel")
    strides = _per_layer(a.get("stride") or 1, n, "stride")
    pools = _per_layer(2 if a.get("pool") is None else a["pool"], n, "pool")
    for f, k, s, p in zip(filters, kernels, strides, pools):
        c.encoder.add(filters=f, kernel_size=k, stride=s, pool_size=p)
    c.code_size = a.get("code_size") or 30
    c.dense_sizes.extend(a.get("conv_dense") or [])
    if a.get("unpooling"):
        c.unpooling = _enum(model_pb2.Unpooling, "UNPOOLING_", a["unpooling"], "unpooling")
    if a.get("activation"):
        c.hidden_activation = _enum(model_pb2.Activation, "ACTIVATION_", a["activation"],
                                    "activation")
    if a.get("denoise"):
        _denoising(c.denoising, a["denoise"])
    if a.get("code_noise") is not None:
        c.binary.noise_stddev = float(a["code_noise"])


def _classifier(spec: model_pb2.ModelSpec, classifier: Any) -> None:
    c = spec.classifier
    c.SetInParent()
    if classifier is True:
        return
    if not isinstance(classifier, dict):
        raise invalid("classifier: True or a dict of ClassifierSpec fields")
    for name, value in classifier.items():
        if name == "hidden_activation":
            c.hidden_activation = _enum(model_pb2.Activation, "ACTIVATION_", value,
                                        "hidden_activation")
        elif name == "hidden_sizes":
            c.hidden_sizes.extend(int(v) for v in value)
        elif name in ("encoder_model_version", "encoder_layers"):
            setattr(c, name, int(value))
        elif name == "freeze_encoder":
            c.freeze_encoder = bool(value)
        else:
            raise invalid(f"classifier: unknown field {name!r} (encoder_model_version, "
                          "encoder_layers, hidden_sizes, hidden_activation, freeze_encoder)")


def model_spec(spec: Optional[model_pb2.ModelSpec] = None, *, pca: Optional[int] = None,
               lsa: Optional[int] = None, dense: Optional[Sequence[int]] = None,
               conv: Optional[Sequence[int]] = None, classifier: Any = None,
               optimizer: Optional[str] = None,
               validation: Optional[str] = None, lr_schedule: Optional[str] = None,
               augmentation: Optional[Dict[str, Any]] = None,
               text: Optional[Dict[str, Any]] = None, **options: Any) -> model_pb2.ModelSpec:
    """The ModelSpec of the arguments (see the module's documentation)."""
    unknown = set(options) - set(_TRAINING) - set(_ARCHITECTURE)
    if unknown:
        raise invalid(f"unknown training options: {', '.join(sorted(unknown))}")
    architectures = [n for n, v in (("pca", pca), ("lsa", lsa), ("dense", dense),
                                    ("conv", conv), ("classifier", classifier))
                     if v is not None and v is not False]
    if len(architectures) > 1:
        raise invalid(f"give one architecture, got {', '.join(architectures)}")
    result = model_pb2.ModelSpec()
    if spec is not None:
        if architectures or options or optimizer or validation or lr_schedule:
            raise invalid("spec= already holds the architecture and options")
        result.CopyFrom(spec)
        return result
    if pca is not None:
        result.pca.code_size = int(pca)
    elif lsa is not None:
        result.lsa.code_size = int(lsa)
    elif dense is not None:
        _dense(result, dense, options)
    elif conv is not None:
        _conv(result, conv, options)
    elif classifier is not None and classifier is not False:
        _classifier(result, classifier)
    elif any(options.get(k) is not None for k in _ARCHITECTURE):
        raise invalid("architecture options without an architecture (pca, lsa, dense or conv)")
    t = result.training
    for name, field in _TRAINING.items():
        if options.get(name) is not None:
            setattr(t, field, options[name])
    if optimizer:
        t.optimizer = _enum(model_pb2.OptimizerKind, "OPTIMIZER_KIND_", optimizer, "optimizer")
    if validation:
        t.validation = _enum(model_pb2.ValidationSplit, "VALIDATION_SPLIT_", validation,
                             "validation")
    if lr_schedule:
        t.lr_schedule = _enum(model_pb2.LearningRateSchedule, "LEARNING_RATE_SCHEDULE_",
                              lr_schedule, "lr_schedule")
    try:
        for name, value in (augmentation or {}).items():
            setattr(t.augmentation, name, value)
        for name, value in (text or {}).items():
            setattr(result.text, name, value)
    except (AttributeError, TypeError, ValueError) as error:
        raise invalid(f"augmentation/text: {error}") from None
    return result
