"""The quick run of a profile: the same pipeline on a budget of minutes, to see every stage and the report work
before the real run (``python -m arpl profile NAME --quick``).

A quick run keeps everything that decides *which code runs*: the profile's dataset, backbone, image size,
channels, optimiser, augmentation, out-of-distribution sets, GAN width and stage switches. It shrinks only the
budget: one trial, one or two epochs, a few images per class (of the OOD sets too), few bootstrap resamples, small
noise sets, one class order, two lambdas and two known-class counts. ``run.quick: true`` marks the run, and the
report's front page says in its first line that its numbers mean nothing.
"""

from __future__ import annotations

import yaml

from arpl.pipeline.profile import overlay, profile_params, profile_text

IMAGES_PER_CLASS = 8      # training images per class of every model of a quick run
TEST_IMAGES_PER_CLASS = 4
BOOTSTRAP = 20
NOISE_COUNT = 40


def quick_changes(params: dict) -> dict:
    """What a quick run changes in the validated ``params`` of a profile: only budget keys, each a section
    and key of ``params.yaml``."""
    figures = params["figures"]
    return {
        "run": {"quick": True},
        "data": {"splits": params["data"]["splits"][:1], "train_per_class": IMAGES_PER_CLASS,
                 "test_per_class": TEST_IMAGES_PER_CLASS},
        "train": {"epochs": 1, "closed_set_per_class": None},
        "confusing": {"epochs": 1, "train_per_class": None, "ablation_trials": 1},
        "osr": {"bootstrap": BOOTSTRAP},
        "ood": {"noise_count": NOISE_COUNT, "test_per_class": TEST_IMAGES_PER_CLASS},
        "incremental": {"orders": 1, "epochs": 1, "train_per_class": None},
        "figures": {"epochs": 1, "train_per_class": None, "lambdas": figures["lambdas"][:2],
                    "known_counts": figures["known_counts"][:2]},
    }


def quick_profile_text(name: str) -> str:
    """The complete, commented ``params.yaml`` of the quick run of profile ``name``: the profile's own file
    with :func:`quick_changes` laid over it (every comment kept) and a header that says what it is."""
    changes = quick_changes(profile_params(name))
    header = (f"# Quick run of profile {name}: its own data, network, optimiser, augmentation and stages on a "
              f"budget of minutes\n# (python -m arpl profile {name} --quick). Its numbers mean nothing; "
              f"`python -m arpl profile {name}` writes the real run.\n")
    return overlay(profile_text(name), header + yaml.safe_dump(changes, sort_keys=False), f"{name} --quick")
