"""From params.yaml to the specs of a run: settings flow by field name, seeds and folders come from one place,
and every kind of run of the shipped profiles keeps its checkpoint fingerprint (so finished runs are still resumed
and reused; what the fingerprint holds is tests/test_fingerprint.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_params
from arpl.pipeline.runs.images import with_train_subset
from arpl.pipeline.runs.specs import model_spec, run_specs, train_spec
from arpl.pipeline.runs import checkpoint_path, known_run, order_run, seed_offset, split_index, split_run, stage_runs
from arpl.training import specs
from arpl.training.specs import TrainSpec, from_sections, setting

# Fingerprints (arpl.training.specs.fingerprint, with the code identity held fixed) of one run of each kind of the
# shipped profiles, computed when the fingerprint came to hold only what can change a run's numbers (issue 24; every
# run trained once more then): a refactoring of the specs must keep them.
FINGERPRINTS = {
    "cpu-default": {
        "train/Softmax/split1": "cea903640833716f", "train/GCPL/split1": "c81dc441a22b5e3e",
        "train/RPL/split1": "0c618a5ba35d0d26", "train/ARPL/split1": "c139d6786e29e918",
        "train/ARPL/all": "0449f484d0b3ea84", "confusing/cs/split0": "c342c7cd9026e16c",
        "confusing/cs-no-abn/split0": "95726e8d51012976", "confusing/cs-no-ft/split0": "0f039256ef7b354f",
        "incremental/ARPL/order2": "d030a410fe533d94", "figures/ARPL_CS/split0": "81ded433e9bb7acd",
        "figures/RPL_lambda0/split0": "f17a5c2390d35a42", "figures/ARPLK4/known4": "67144ce93e09cabd",
        "ablations/RPL_cosine/lambda1": "61f1a157b0638d00",
    },
    "smoke": {
        "train/Softmax/split1": "14ba388f02d3cb41", "train/GCPL/split1": "76664cf33768e51d",
        "train/RPL/split1": "c96569a6785d95a0", "train/ARPL/split1": "399ad6348f53ee99",
        "train/ARPL/all": "44ba3ba52a91d386", "confusing/cs/split0": "809d503d29972859",
        "confusing/cs-no-abn/split0": "ae79581a77829d36", "confusing/cs-no-ft/split0": "382509a20aabfba2",
        "incremental/ARPL/order2": "29a644fa37674024", "figures/ARPL_CS/split0": "ca574ab94fc3e7f4",
        "figures/RPL_lambda0/split0": "1ece6875fd8f793c", "figures/ARPLK4/known4": "6be076d821e9a082",
        "ablations/RPL_cosine/lambda1": "0a95ead490fd7db4",
    },
    "cifar10": {
        "train/ARPL/split1": "4b4d97cea2d7000c", "train/ARPL/all": "288276031748bdc0",
        "confusing/cs/split0": "e863b7d5832d4a98", "figures/ARPLK4/known4": "6f1ebb738c8c62d8",
    },
    "imagenet": {
        "train/ARPL/split1": "42672c35fecab8f7", "confusing/cs-no-ft/split0": "056bd0a2c2fe1795",
    },
}


def _run_kinds(params: Params) -> dict:
    """The specs of each kind of run, as the stages build them."""
    figures = {"epochs": params.figures.epochs}
    two_d = {"backbone": params.figures.backbone, "feat_dim": 2}
    cs = params.confusing
    cs_overrides = {"epochs": cs.epochs or params.train.epochs, "lr": float(cs.lr or params.train.lr)}
    kinds = {f"train/{method}/split1": run_specs(params, method, 6, split_run(1))
             for method in ("Softmax", "GCPL", "RPL", "ARPL")}
    kinds["train/ARPL/all"] = run_specs(with_train_subset(params, params.train.closed_set_per_class), "ARPL",
                                        10, "all")
    kinds.update({f"confusing/{variant}/split0": run_specs(params, "ARPL", 6, split_run(0), variant,
                                                           train_overrides=dict(cs_overrides))
                  for variant in ("cs", "cs-no-abn", "cs-no-ft")})
    kinds["incremental/ARPL/order2"] = run_specs(params, "ARPL", 5, order_run(2),
                                                 train_overrides={"epochs": params.incremental.epochs})
    kinds["figures/ARPL_CS/split0"] = run_specs(params, "ARPL", 6, split_run(0), "cs", model_overrides=two_d,
                                                train_overrides=dict(figures))
    kinds["figures/RPL_lambda0/split0"] = run_specs(params, "RPL", 6, split_run(0),
                                                    model_overrides={**two_d, "weight_pl": 0.0},
                                                    train_overrides=dict(figures))
    kinds["figures/ARPLK4/known4"] = run_specs(params, "ARPL", 4, known_run(4), model_overrides=two_d,
                                               train_overrides=dict(figures))
    kinds["ablations/RPL_cosine/lambda1"] = run_specs(params, "RPL", 6, split_run(0),
                                                      model_overrides={"distance": "l2-dot", "weight_pl": 1.0},
                                                      train_overrides=dict(figures))
    return kinds


@pytest.mark.parametrize("profile", sorted(FINGERPRINTS))
def test_every_kind_of_run_keeps_its_fingerprint(profile, monkeypatch):
    monkeypatch.setattr(specs, "run_code", lambda model, train: "code-fixed-for-the-test")
    kinds = _run_kinds(profile_params(profile))
    found = {kind: specs.fingerprint(*kinds[kind]) for kind in FINGERPRINTS[profile]}
    assert found == FINGERPRINTS[profile]


def test_settings_are_read_by_field_name_and_cast_to_the_field_type(smoke_params):
    params = smoke_params.replace("train", lr=1, milestones=[1, 2], amp=True)
    params.confusing.ngf = 12
    spec = train_spec(params, split_run(3))
    assert spec.lr == 1.0 and isinstance(spec.lr, float) and spec.milestones == (1, 2) and spec.amp
    assert spec.seed == params.run.seed + 3 and spec.ngf == TrainSpec().ngf  # plain runs: no GAN settings
    assert train_spec(params, split_run(3), "cs").ngf == 12
    model = model_spec(params, "ARPL", 6)
    assert (model.in_channels, model.image_size, model.feat_dim) == (params.data.channels, params.data.image_size, 16)


def test_a_new_setting_needs_only_its_field():
    @dataclass(frozen=True)
    class Spec:
        epochs: int = setting("train", 1)
        label_smoothing: float = setting("train", 0.0)
        seed: int = 0

    assert from_sections(Spec, {"train": SimpleNamespace(epochs=3, label_smoothing=1)}, seed=7) == Spec(3, 1.0, 7)
    assert from_sections(Spec, {}) == Spec()
    with pytest.raises(KeyError, match="Spec.label_smoothing reads train.label_smoothing, which params.yaml lacks"):
        from_sections(Spec, {"train": SimpleNamespace(epochs=3)})


def test_run_names_give_seeds_and_folders():
    assert [seed_offset(run) for run in (split_run(3), "all", order_run(2), known_run(4))] == [3, 100, 202, 304]
    assert split_index(split_run(4)) == 4
    assert checkpoint_path("train", "ARPL", split_run(0)).as_posix() == "runs/train/ARPL/split0/checkpoint.pt"
    with pytest.raises(ValueError, match="split<i>, all, order<i>, known<K>"):
        seed_offset("lambda0.1")
    with pytest.raises(ValueError, match="no open-set trial"):
        split_index("all")


def test_ablation_variants_train_on_the_first_ablation_trials_splits_and_all_classes(smoke_params):
    params = copy.deepcopy(smoke_params)
    params.data.splits, params.train.closed_set = [2, 0, 1], True
    params.confusing.ablation_trials = 1
    every_run = ["split2", "split0", "split1", "all"]
    assert stage_runs(params) == every_run
    assert stage_runs(params, "cs") == every_run
    assert stage_runs(params, "cs-no-abn") == stage_runs(params, "cs-no-ft") == ["split2", "all"]
    params.confusing.ablation_trials = None
    assert stage_runs(params, "cs-no-ft") == every_run
