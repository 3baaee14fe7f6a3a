"""The schema of ``params.yaml``: every key, its type, range or allowed names, and what it does.

:mod:`arpl.pipeline.params` checks a parameter file against :data:`SCHEMA`; the registered names that
some keys take (methods, variants, backbones, datasets) are looked up only when a file is validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

IMAGE_SIZES = (28, 32, 64, 80, 224)
SCORES = ("own", "msp", "max_logit", "energy", "max_distance")


class ParamsError(ValueError):
    """``params.yaml`` does not match the schema; the message names key, value and what is allowed."""


@dataclass(frozen=True)
class Field:
    """One leaf of the schema: a type check plus optional range, choices and nullability."""

    kind: type | tuple[type, ...]
    help: str
    choices: tuple | Callable[[], tuple] | None = None  # a callable: asked at validation (registered names)
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    nullable: bool = False
    item: "Field | None" = None  # for lists
    pattern: str | None = None
    allow_empty: bool = False  # for lists
    lookup: Callable[[str], Any] | None = None  # finds the registered entry a value names (raises ValueError)
    registered: str = ""  # what ``lookup`` finds, in words

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        if self.item is not None:
            return f"a list of {self.item.allowed()}"
        if self.lookup is not None:
            text = f"a registered {self.registered} or your own as 'module:attribute'"
        elif self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.pattern is not None:
            text = f"a string matching {self.pattern!r}"
        else:
            names = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            text = " or ".join("a number" if k in (int, float) and len(names) > 1 else _TYPE_WORD[k]
                               for k in names)
            text = "a number" if text == "a number or a number" else text
            if self.low is not None or self.high is not None:
                low = "" if self.low is None else (f"> {self.low}" if self.low_open else f">= {self.low}")
                high = "" if self.high is None else f"<= {self.high}"
                text += " " + " and ".join(p for p in (low, high) if p)
        return text + (" (or null)" if self.nullable else "")


_TYPE_WORD = {int: "an integer", float: "a number", bool: "true/false", str: "a string", list: "a list"}


def _int(help: str, low: int | None = None, high: int | None = None, nullable: bool = False) -> Field:
    return Field(int, help, low=low, high=high, nullable=nullable)


def _num(help: str, low: float | None = None, high: float | None = None, low_open: bool = False) -> Field:
    return Field((int, float), help, low=low, high=high, low_open=low_open)


def _choice(help: str, choices: tuple) -> Field:
    return Field(str, help, choices=choices)


def _list(help: str, item: Field, allow_empty: bool = False) -> Field:
    return Field(list, help, item=item, allow_empty=allow_empty)


def _registered(help: str, lookup: Callable[[str], Any], registered: str) -> Field:
    return Field(str, help, lookup=lookup, registered=registered)


def _dataset_in_role(name: str, role: str, mistake: str, hint: str = "") -> Any:
    """The dataset source ``name`` (see :mod:`arpl.data.registry`) if its flag ``role`` (``open_set`` or ``ood``)
    is set; otherwise a ValueError naming the ``mistake`` and the registered sources that fit the role."""
    from arpl.data import DATASETS, dataset_source

    source = dataset_source(name)
    if not getattr(source, role):
        usable = [entry.name for entry in DATASETS.entries() if getattr(entry, role)]
        raise ValueError(f"{name!r} {mistake}; use one of {', '.join(usable)} or your own as 'module:attribute'{hint}")
    return source


def open_set_dataset(name: str) -> Any:
    """The dataset source ``name`` if it can be ``data.dataset``."""
    return _dataset_in_role(name, "open_set", "is an out-of-distribution set, not an open-set dataset")


def _ood_set(name: str) -> Any:
    """The dataset source ``name`` if it can be one of ``ood.sets``."""
    return _dataset_in_role(name, "ood", "is no out-of-distribution set", " (a DatasetSource with ood=True)")


def _backbone(name: str) -> Any:
    """The backbone ``name`` (see :mod:`arpl.models.registry`)."""
    from arpl.models import backbone_entry

    return backbone_entry(name)


def _method(help: str) -> Field:
    """A registered method of :mod:`arpl.methods`, or the import path of one outside ``arpl``."""
    return _registered(help, _method_class, "method")


def _variant(help: str) -> Field:
    """A registered Algorithm-2 variant of :mod:`arpl.methods`, or the import path of one outside ``arpl``."""
    return _registered(help, _variant_entry, "variant of Algorithm 2")


def _method_class(name: str) -> Any:
    from arpl.methods import get_method

    return get_method(name)


def _variant_entry(name: str) -> Any:
    from arpl.methods import get_variant

    return get_variant(name)


SCHEMA: dict[str, Any] = {
    "profile": Field(str, "name of this parameter set, shown in the report"),
    "run": {
        "device": Field(str, "auto, cpu, cuda or cuda:N", pattern=r"^(auto|cpu|cuda(:\d+)?)$"),
        "seed": _int("base random seed (split i uses seed + i)", low=0),
        "progress": Field(bool, "tqdm progress bars (terminal only)"),
        "on_nonfinite": _choice("what a NaN/inf loss does", ("stop", "skip_batch")),
        "data_root": Field(str, "folder of the raw data (tracked by data.dvc)"),
        "workers": _int("processes for independent runs (0 = CPU: one per core; GPU: sized from its memory)", low=0),
        "checkpoint_every": _int("epochs between checkpoints and per-epoch test metrics (0 = CPU: 1, GPU: 10)", low=0),
        "quick": Field(bool, "a quick run of the profile (python -m arpl profile NAME --quick): its numbers mean nothing"),
        "portable_kernels": Field(bool, "CPU kernels that give the same numbers on every x86-64 CPU (slower; "
                                        "arpl/portable.py)"),
    },
    "data": {
        "dataset": _registered("open-set dataset", open_set_dataset, "open-set dataset"),
        "splits": _list("indices of the authors' known/unknown lists ([] = no open-set trials)",
                        _int("split index", low=0), allow_empty=True),
        "num_known": _int("known classes of a seeded random split (null = the authors' lists)", low=1, nullable=True),
        "image_size": Field(int, "image side in pixels", choices=IMAGE_SIZES),
        "channels": Field(int, "image channels", choices=(1, 3)),
        "train_per_class": _int("training images per class (null = all)", low=1, nullable=True),
        "test_per_class": _int("test images per class (null = all)", low=1, nullable=True),
        "download": Field(bool, "let torchvision download missing data"),
    },
    "model": {
        "backbone": _registered("network", _backbone, "backbone"),
        "feat_dim": _int("feature size (null = the backbone's own)", low=1, nullable=True),
        "width": _int("channels of the network's first convolution (null = its own: 32 for 'small', 64 for classifier32 "
                      "and the ResNets)", low=1, nullable=True),
    },
    "train": {
        "methods": _list("losses to train", _method("method")),
        "closed_set": Field(bool, "also train all-class models for the OOD / closed-set stages"),
        "closed_set_per_class": _int("training images per class of the all-class models (null = "
                                     "data.train_per_class)", low=1, nullable=True),
        "epochs": _int("training epochs", low=1),
        "batch_size": _int("batch size", low=1),
        "optimizer": _choice("optimiser", ("sgd", "adam")),
        "lr": _num("learning rate", low=0, low_open=True),
        "momentum": _num("SGD momentum", low=0, high=1),
        "weight_decay": _num("weight decay", low=0),
        "milestones": _list("epochs at which lr is multiplied by lr_gamma", _int("epoch", low=1)),
        "lr_gamma": _num("learning-rate decay factor", low=0, high=1, low_open=True),
        "temperature": _num("softmax temperature (gamma = 1 / temperature, Eq. 7)", low=0, low_open=True),
        "weight_pl": _num("lambda, weight of the margin term (Eq. 14)", low=0),
        "margin_form": _choice("margin term: authors' code or the paper's Eq. 12", ("code", "paper")),
        "amp": Field(bool, "bf16 autocast on CUDA"),
        "channels_last": Field(bool, "channels-last memory format (faster convolutions on CPU and CUDA)"),
        "compile": Field(bool, "torch.compile the backbone"),
    },
    "confusing": {
        "variants": _list("ARPL+CS variants ([] = none)", _variant("variant"), allow_empty=True),
        "ablation_trials": _int("open-set trials of the ablations w/o ABN and w/o FT: the first N of data.splits "
                                "(null = all; at least 1, for Fig. 10; their all-class models are trained whenever "
                                "train.closed_set is on)", low=1, nullable=True),
        "init": _choice("start of ARPL+CS: 'scratch' (paper) or the trained ARPL model of the same run", ("scratch", "arpl")),
        "epochs": _int("epochs of Algorithm 2 (null = train.epochs)", low=1, nullable=True),
        "lr": Field((int, float), "classifier learning rate of Algorithm 2 (null = train.lr)", low=0, low_open=True,
                    nullable=True),
        "train_per_class": _int("training images per class of Algorithm 2 (null = data.train_per_class)", low=1,
                                nullable=True),
        "beta": _num("beta, weight of the entropy term (Eq. 18-19)", low=0),
        "entropy_form": _choice("entropy term: authors' code or the paper's Eq. 17", ("code", "paper")),
        "gan_lr": _num("Adam learning rate of generator and discriminator", low=0, low_open=True),
        "nz": _int("latent size of the generator", low=1),
        "ngf": _int("generator width", low=1),
        "ndf": _int("discriminator width", low=1),
    },
    "osr": {
        "scores": _list("open-set scores to report", _choice("score", SCORES)),
        "bootstrap": _int("bootstrap resamples for the 95% intervals (0 = none)", low=0),
    },
    "ood": {
        "sets": _list("out-of-distribution sets", _registered("set", _ood_set, "out-of-distribution set")),
        "noise_count": _int("images in each generated noise set", low=1),
        "test_per_class": _int("images per class of each set that is not generated (null = all)", low=1,
                               nullable=True),
    },
    "incremental": {
        "methods": _list("bases to compare", _method("method")),
        "enabled": Field(bool, "run the class-incremental stage"),
        "base_classes": _int("classes the backbone is trained on", low=2),
        "orders": _int("random class orders to average over", low=1),
        "epochs": _int("epochs of base training", low=1),
        "train_per_class": _int("training images per class (null = data.train_per_class)", low=1, nullable=True),
    },
    "figures": {
        "backbone": _registered("network of the 2-D feature figures", _backbone, "backbone"),
        "epochs": _int("epochs of each figure model", low=1),
        "train_per_class": _int("training images per class of the figure and ablation models "
                                "(null = data.train_per_class)", low=1, nullable=True),
        "split": _int("split index used by the figures", low=0),
        "enabled": Field(bool, "run the figures and ablations stages (small 2-D models; off for ImageNet-scale data)"),
        "lambdas": _list("lambda values of the Fig. 8 ablation", _num("lambda", low=0)),
        "known_counts": _list("numbers of known classes of Fig. 11 and 12", _int("K", low=2)),
    },
}

SPLITS_PER_DATASET = 5  # the authors' five lists per dataset (random splits use the same count)
