"""The quick run of a profile: the same pipeline on a budget of minutes, to see every stage and the report work
before the real run (``python -m arpl profile NAME --quick``).

A quick run keeps everything that decides *which code runs*: the profile's dataset, backbone, image size,
channels, optimiser, augmentation, out-of-distribution sets and stage switches. It shrinks only the budget: one
trial, one epoch, a few images per class (of the OOD sets too), few bootstrap resamples, small noise sets, one class
order, two lambdas and two known-class counts, and narrower networks: the backbone (where it takes a width) and the
GAN at most :data:`QUICK_WIDTH` channels wide. The narrowing keeps every layer; it matters on a CPU, where a
ResNet-34 at 32 px trains at about 9 images/s on a core at its width of 64 and 118 at 16, classifier32 at 62 and
553 (``benchmarks/backbone_throughput.py``). ``run.quick: true`` marks the run, and the report's front page says in
its first line that its numbers mean nothing.
"""

from __future__ import annotations

import yaml

from arpl.models import backbone_entry
from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import overlay, profile_params, profile_text

IMAGES_PER_CLASS = 4      # training images per class of every model of a quick run (tests/fake_data.py writes as many)
TEST_IMAGES_PER_CLASS = 2
BOOTSTRAP = 20
NOISE_COUNT = 40
QUICK_WIDTH = 16          # at most this many channels in the first convolution of the backbone and of the GAN


def quick_changes(params: Params) -> dict:
    """What a quick run changes in the validated ``params`` of a profile: only budget keys, each a section
    and key of ``params.yaml``."""
    figures, model, confusing = params.figures, params.model, params.confusing
    changes = {
        "run": {"quick": True},
        "data": {"splits": params.data.splits[:1], "train_per_class": IMAGES_PER_CLASS,
                 "test_per_class": TEST_IMAGES_PER_CLASS},
        "train": {"epochs": 1, "closed_set_per_class": None},
        "confusing": {"epochs": 1, "train_per_class": None, "ablation_trials": 1,
                      "ngf": min(confusing.ngf, QUICK_WIDTH), "ndf": min(confusing.ndf, QUICK_WIDTH)},
        "osr": {"bootstrap": BOOTSTRAP},
        "ood": {"noise_count": NOISE_COUNT, "test_per_class": TEST_IMAGES_PER_CLASS},
        "incremental": {"orders": 1, "epochs": 1, "train_per_class": None},
        "figures": {"epochs": 1, "train_per_class": None, "lambdas": figures.lambdas[:2],
                    "known_counts": figures.known_counts[:2]},
    }
    if backbone_entry(model.backbone).width:
        changes["model"] = {"width": min(model.width or QUICK_WIDTH, QUICK_WIDTH)}
    return changes


def quick_profile_text(name: str) -> str:
    """The complete, commented ``params.yaml`` of the quick run of profile ``name``: the profile's own file
    with :func:`quick_changes` laid over it (every comment kept) and a header that says what it is."""
    changes = quick_changes(profile_params(name))
    header = (f"# Quick run of profile {name}: its own data, network (at most {QUICK_WIDTH} channels wide), optimiser, "
              f"augmentation and stages\n# on a budget of minutes (python -m arpl profile {name} --quick). Its numbers "
              f"mean nothing; `python -m arpl profile {name}` writes the real run.\n")
    return overlay(profile_text(name), header + yaml.safe_dump(changes, sort_keys=False), f"{name} --quick")
