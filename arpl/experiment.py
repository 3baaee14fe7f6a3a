"""From ``params.yaml`` to data, specs and trained runs: the glue every stage notebook shares."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from arpl.data.files import decode_all
from arpl.data.openset import OpenSetData, make_open_set, per_class_subset, select_classes
from arpl.data.sources import ImageSet, load_image_set
from arpl.data.splits import NUM_CLASSES, OpenSetSplit, open_set_split
from arpl.data.transforms import AUGMENTATION
from arpl.distributed import DistContext, resolve_device
from arpl.methods import display_name, get_variant, registered_name
from arpl.specs import ModelSpec, TrainSpec
from arpl.training import EvaluateFn, FitResult, fit

if TYPE_CHECKING:
    import pandas as pd

RUNS = Path("runs")
CIFAR_PLUS = {"cifar+10": "cifar10", "cifar+50": "cifar10"}


def run_path(stage: str, name: str, what: str) -> Path:
    """Folder of one training run: ``runs/<stage>/<method or variant>/<split or 'all'>`` (a method named by
    import path, ``module:Class``, by its registered name)."""
    return RUNS / stage / registered_name(name) / what


def device(params: dict, context: DistContext = DistContext()) -> torch.device:
    """The device of ``run.device`` (``auto``: CUDA when available)."""
    return resolve_device(params["run"]["device"], context)


def base_dataset(params: dict) -> str:
    """The dataset whose images are trained on (CIFAR+N trains on CIFAR10)."""
    dataset = params["data"]["dataset"]
    return CIFAR_PLUS.get(dataset, dataset)


def load_set(params: dict, name: str, train: bool) -> ImageSet:
    """Dataset ``name`` at the profile's image size and channels, from ``run.data_root`` (cached: the
    stages load the same set once per split)."""
    data = params["data"]
    count = params["ood"]["noise_count"] if name.endswith("-noise") else None
    return _cached_set(params["run"]["data_root"], name, train, data["download"], data["image_size"],
                       data["channels"], count)


@lru_cache(maxsize=4)
def _cached_set(root: str, name: str, train: bool, download: bool, size: int, channels: int,
                count: int | None) -> ImageSet:
    return load_image_set(name, root, train=train, download=download, size=size, channels=channels, count=count)


def train_test(params: dict) -> tuple[ImageSet, ImageSet]:
    """Training and test images of the base dataset, with the profile's per-class subsets (seeded)."""
    data, seed = params["data"], params["run"]["seed"]
    train = per_class_subset(load_set(params, base_dataset(params), True), data["train_per_class"], seed=seed)
    test = per_class_subset(load_set(params, base_dataset(params), False), data["test_per_class"], seed=seed)
    return train, test


def with_train_subset(params: dict, per_class: int | None) -> dict:
    """``params`` with ``data.train_per_class`` set to ``per_class`` (None: unchanged): the figures, ablations
    and incremental stages train their many small models on a subset of their own size."""
    if per_class is None:
        return params
    return {**params, "data": {**params["data"], "train_per_class": per_class}}


def split_of(params: dict, index: int, num_known: int | None = None) -> OpenSetSplit:
    """The known/unknown classes of trial ``index`` (the authors' list ``index`` where one exists)."""
    num_known = num_known or params["data"]["num_known"]
    return open_set_split(params["data"]["dataset"], index, num_known=num_known, seed=params["run"]["seed"])


def open_set(params: dict, index: int, num_known: int | None = None) -> OpenSetData:
    """The three image sets of trial ``index``: known training, known test, unknown test images."""
    train, test = train_test(params)
    split = split_of(params, index, num_known)
    unknown_test = None
    if params["data"]["dataset"] in CIFAR_PLUS:
        unknown_test = per_class_subset(load_set(params, "cifar100", False), params["data"]["test_per_class"],
                                        seed=params["run"]["seed"])
    return make_open_set(train, test, split, unknown_test)


def showcase(params: dict) -> tuple[str, OpenSetData]:
    """The run the stage figures show and its data: the first trial (``split<i>``) or, without trials, the
    all-class model (``all``) with the first OOD set as its unknowns."""
    if params["data"]["splits"]:
        split = params["data"]["splits"][0]
        return f"split{split}", open_set(params, split)
    from arpl.checks import available_ood_sets

    train, test = all_classes(params)
    unknown = load_set(params, available_ood_sets(params)[0], False)
    everything = list(range(len(train.classes)))
    return "all", OpenSetData(train, test, unknown, OpenSetSplit(everything, [], "all classes"))


def all_classes(params: dict) -> tuple[ImageSet, ImageSet]:
    """Training and test images of every class (the closed-set / OOD in-distribution model)."""
    train, test = train_test(params)
    classes = list(range(NUM_CLASSES[base_dataset(params)]))
    return select_classes(train, classes), select_classes(test, classes)


def model_spec(params: dict, method: str, num_classes: int, **overrides) -> ModelSpec:
    """The classifier of ``method`` (a registered name or import path, :mod:`arpl.methods`) with the profile's
    network and loss."""
    data, model, train = params["data"], params["model"], params["train"]
    spec = ModelSpec(method=method, backbone=model["backbone"], num_classes=num_classes,
                     in_channels=data["channels"], image_size=data["image_size"], feat_dim=model["feat_dim"], width=model["width"],
                     temperature=float(train["temperature"]), weight_pl=float(train["weight_pl"]),
                     margin_form=train["margin_form"])
    return replace(spec, **overrides)


def train_spec(params: dict, seed_offset: int, data_tag: str, variant: str | None = None,
               **overrides) -> TrainSpec:
    """The optimisation of one run; ``variant`` (cs, cs-no-abn, cs-no-ft: see :mod:`arpl.methods`) turns on
    Algorithm 2. A run with other ``epochs`` than ``train.epochs`` (figures, ablations, incremental) gets the
    learning-rate milestones scaled to its length, unless ``milestones`` is overridden too."""
    train, run, cs = params["train"], params["run"], params["confusing"]
    spec = TrainSpec(
        epochs=train["epochs"], batch_size=train["batch_size"], optimizer=train["optimizer"], lr=float(train["lr"]),
        momentum=float(train["momentum"]), weight_decay=float(train["weight_decay"]),
        milestones=tuple(train["milestones"]), lr_gamma=float(train["lr_gamma"]), seed=run["seed"] + seed_offset,
        augment=AUGMENTATION.get(base_dataset(params), False), amp=train["amp"],
        channels_last=train["channels_last"], compile=train["compile"], on_nonfinite=run["on_nonfinite"],
        data_tag=data_tag)
    if variant is not None:
        spec = replace(spec, confusing=True, focus_training=get_variant(variant).focus_training,
                       beta=float(cs["beta"]), entropy_form=cs["entropy_form"], gan_lr=float(cs["gan_lr"]), nz=cs["nz"],
                       ngf=cs["ngf"], ndf=cs["ndf"])
    if "epochs" in overrides and "milestones" not in overrides:
        overrides["milestones"] = scaled_milestones(spec.milestones, spec.epochs, overrides["epochs"])
    return replace(spec, **overrides)


def scaled_milestones(milestones: tuple[int, ...], epochs: int, new_epochs: int) -> tuple[int, ...]:
    """The learning-rate milestones of an ``epochs``-long schedule, at the same fractions of a ``new_epochs``-long
    one (at least epoch 1): (5, 7) of 8 epochs -> (2, 3) of 4."""
    return tuple(sorted({max(1, m * new_epochs // epochs) for m in milestones}))


def data_tag(params: dict, what: str) -> str:
    """Identifies the training data of a run, so a checkpoint is never resumed on other data."""
    data = params["data"]
    return (f"{data['dataset']}:{what}:{data['image_size']}px:{data['channels']}ch:"
            f"{data['train_per_class']}/class:seed{params['run']['seed']}")


def method_name(method_or_variant: str) -> str:
    """Display name: Softmax, GCPL, RPL, ARPL, ARPL+CS, ARPL+CS (w/o ABN), ARPL+CS (w/o FT), or a registered
    method's own."""
    return display_name(method_or_variant)


def train_run(params: dict, method: str, images: ImageSet, run_dir: Path, seed_offset: int, what: str,
              variant: str | None = None, evaluate: EvaluateFn | None = None,
              context: DistContext = DistContext(), model_overrides: dict | None = None,
              train_overrides: dict | None = None) -> FitResult:
    """Train (or resume, or reuse a finished) ``method`` on ``images`` into ``run_dir``."""
    num_classes = len(images.classes)
    abn = variant is not None and get_variant(variant).abn
    mspec = model_spec(params, method, num_classes, abn=abn, **(model_overrides or {}))
    tspec = train_spec(params, seed_offset, **{"data_tag": data_tag(params, what), "variant": variant,
                                               **(train_overrides or {})})
    label = f"{method_name(variant or method)} {what}"
    return fit(mspec, tspec, images.images, images.labels, run_dir, device=device(params, context),
               evaluate=evaluate, context=context, progress=params["run"]["progress"], label=label)


def open_set_evaluator(data: OpenSetData, head: str, dev: torch.device) -> EvaluateFn:
    """Per-epoch test metrics of an open-set model: accuracy, AUROC and OSCR with its own score; for ARPL
    also the margin ``R`` and the share of known test images whose margin term is active (Eq. 12)."""
    from arpl import metrics
    from arpl.evaluate import predict

    def evaluate(net, epoch: int) -> dict:
        known = predict(net, data.test_known.images, device=dev)
        unknown = predict(net, data.test_unknown.images, device=dev)
        k, u = known.scores("own", head), unknown.scores("own", head)
        correct = known.predicted() == data.test_known.labels.numpy()
        row = {"test_acc": float(correct.mean()), "auroc": metrics.auroc(k, u), "oscr": metrics.oscr(k, correct, u)}
        if hasattr(net.head, "margin_active_fraction"):
            features = torch.from_numpy(known.features).to(dev)
            row["R"] = net.head.radius
            row["margin_active"] = net.head.margin_active_fraction(features, data.test_known.labels.to(dev))
        return row

    return evaluate


def closed_set_evaluator(test: ImageSet, dev: torch.device) -> EvaluateFn:
    """Per-epoch closed-set test accuracy."""
    from arpl.evaluate import predict

    def evaluate(net, epoch: int) -> dict:
        predicted = predict(net, test.images, device=dev).predicted()
        return {"test_acc": float((predicted == test.labels.numpy()).mean())}

    return evaluate


def stage_runs(params: dict) -> list[str]:
    """The runs of a training stage for each method or variant: ``split<i>`` per trial, and ``all`` (the
    all-class model) when ``train.closed_set`` is on."""
    return [f"split{split}" for split in params["data"]["splits"]] + (["all"] if params["train"]["closed_set"] else [])


def train_stage_run(params: dict, stage: str, name: str, run: str, context: DistContext = DistContext()) -> dict:
    """Train (or reuse) run ``run`` (see :func:`stage_runs`) of ``name``, a method of ``train.methods`` or, for
    stage ``confusing``, a variant; returns its last epoch's row."""
    variant = name if stage == "confusing" else None
    method = get_variant(variant).method if variant else name
    dev = device(params, context)
    if run == "all":
        params = with_train_subset(params, params["train"]["closed_set_per_class"])
        train, test = all_classes(params)
        evaluate, seed_offset = closed_set_evaluator(test, dev), 100
    else:
        seed_offset = int(run.removeprefix("split"))
        data = open_set(params, seed_offset)
        train, evaluate = data.train_known, open_set_evaluator(data, method, dev)
    overrides = {}
    if variant is not None:
        train, overrides = confusing_settings(params, train, run, variant)
    result = train_run(params, method, train, run_path(stage, name, run), seed_offset, run, variant, evaluate,
                       context, train_overrides=overrides)
    return {"run": run, **result.history[-1]}


def confusing_settings(params: dict, train: ImageSet, run: str, variant: str) -> tuple[ImageSet, dict]:
    """The training images and :class:`TrainSpec` overrides of an ARPL+CS run (Algorithm 2): its own epochs,
    learning rate and images per class (``confusing.*``; null = as the plain runs) and, with
    ``confusing.init: arpl``, a warm start from the finished model of the same run of the method ``variant``
    trains (ARPL)."""
    cs, seed = params["confusing"], params["run"]["seed"]
    overrides = {"epochs": cs["epochs"] or params["train"]["epochs"], "lr": float(cs["lr"] or params["train"]["lr"])}
    if cs["train_per_class"] is not None:
        train = per_class_subset(train, cs["train_per_class"], seed=seed)
        overrides["data_tag"] = f"{data_tag(params, run)}:cs{cs['train_per_class']}/class"
    if cs["init"] == "arpl":
        from arpl.checkpoint import read_checkpoint

        source = run_path("train", get_variant(variant).method, run) / "checkpoint.pt"
        overrides["init_from"] = f"{source}@{read_checkpoint(source)['fingerprint']}"
        overrides["milestones"] = ()
    return train, overrides


def train_stage(params: dict, stage: str, names: list[str], context: DistContext = DistContext()) -> dict[str, list[dict]]:
    """Train every run of every method (or, for stage ``confusing``, variant) in ``names``: on each split, and on
    all classes when ``train.closed_set`` is on; independent runs go to parallel one-thread processes on the
    CPU (:mod:`arpl.parallel`). Returns one summary row per run, by name."""
    from arpl.parallel import train_ahead

    runs = [(name, run) for run in reversed(stage_runs(params)) for name in names]  # the all-class runs first
    train_ahead(params, [partial(train_stage_run, params, stage, name, run) for name, run in runs])
    return {name: [train_stage_run(params, stage, name, run, context) for run in stage_runs(params)]
            for name in names}


def margin_history(params: dict, stage: str, name: str) -> pd.DataFrame:
    """ARPL's margin ``R`` and the share of known test images whose margin term is active (Eq. 12), per epoch
    (rows) and split (columns), from the training histories of the open-set runs of ``name``."""
    import pandas as pd

    from arpl.checkpoint import read_checkpoint

    rows = [{"split": run, "epoch": row["epoch"], "R": row["R"], "active share": row["margin_active"]}
            for run in stage_runs(params) if run != "all"
            for row in read_checkpoint(run_path(stage, name, run) / "checkpoint.pt")["history"]]
    return pd.DataFrame(rows).pivot(index="epoch", columns="split", values=["R", "active share"])


def headline(row: dict) -> dict:
    """The metrics of a run's last epoch worth tracking with ``dvc metrics``."""
    return {key: round(row[key], 4) for key in ("test_acc", "auroc", "oscr", "loss") if key in row}


def describe_splits(params: dict) -> pd.DataFrame:
    """One row per trial: known and unknown classes (by name) and image counts; with ``train.closed_set``
    a last row ``all`` for the all-class model, whose unknowns are the OOD sets."""
    import pandas as pd

    from arpl.checks import available_ood_sets
    from arpl.data.splits import duplicate_splits

    duplicates = {i for pair in _safe_duplicates(params["data"]["dataset"], duplicate_splits) for i in pair}
    rows = []
    for split in params["data"]["splits"]:
        data = open_set(params, split)
        rows.append({"split": split, "known": ", ".join(data.train_known.classes),
                     "unknown": ", ".join(data.test_unknown.classes), "train images": len(data.train_known),
                     "test known": len(data.test_known), "test unknown": len(data.test_unknown),
                     "repeats another split": split in duplicates})
    if params["train"]["closed_set"]:
        train, test = all_classes(with_train_subset(params, params["train"]["closed_set_per_class"]))
        outs = available_ood_sets(params)
        rows.append({"split": "all", "known": f"all {len(train.classes)} classes",
                     "unknown": "OOD sets: " + ", ".join(outs), "train images": len(train), "test known": len(test),
                     "test unknown": sum(len(load_set(params, name, False)) for name in outs),
                     "repeats another split": False})
    return pd.DataFrame(rows)


def _safe_duplicates(dataset: str, finder) -> list[tuple[int, int]]:
    try:
        return finder(dataset)
    except ValueError:  # random splits: no published lists to compare
        return []


def sample_rows(params: dict, per_row: int = 10) -> list[tuple[str, torch.Tensor]]:
    """For each trial, a row of known and a row of unknown test images (for the data stage's grid); without
    trials, a row of the all-class test images and one per OOD set."""
    sets = []
    for split in params["data"]["splits"]:
        data = open_set(params, split)
        sets += [(f"split {split} known", data.test_known), (f"split {split} unknown", data.test_unknown)]
    if not sets:
        from arpl.checks import available_ood_sets

        sets = [("all classes", all_classes(params)[1])]
        sets += [(f"OOD {name}", load_set(params, name, False)) for name in available_ood_sets(params)]
    rows = []
    for title, images in sets:
        step = max(1, len(images) // per_row)
        picked = images.images[::step][:per_row]
        rows.append((title, picked if isinstance(picked, torch.Tensor) else decode_all(picked, workers=0)))
    return rows
