"""From params.yaml to the specs of a run: settings flow by field name, seeds and folders come from one place,
and every kind of run of the shipped profiles keeps the checkpoint fingerprint it had before the specs were
built this way (so finished runs are still resumed and reused)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from arpl.pipeline.profile import profile_params
from arpl.pipeline.profile_data import with_train_subset
from arpl.pipeline.run_specs import model_spec, run_specs, train_spec
from arpl.pipeline.runs import checkpoint_path, known_run, order_run, seed_offset, split_index, split_run, stage_runs
from arpl.training import specs
from arpl.training.specs import TrainSpec, from_sections, setting

# Fingerprints (arpl.training.specs.fingerprint, with the code version held fixed) computed at commit cb6fe79, before
# the specs were built from the params sections by field name: one per kind of run of the pipeline.
FINGERPRINTS_AT_CB6FE79 = {
    "cpu-default": {
        "train/Softmax/split1": "1fbe69a849cbaf7f", "train/GCPL/split1": "0465fb3583d52d4e",
        "train/RPL/split1": "b130f2ba9fd25bc8", "train/ARPL/split1": "95880dd0f908ef58",
        "train/ARPL/all": "2f02449f7a03a3cf", "confusing/cs/split0": "520a9ef82d750ba5",
        "confusing/cs-no-abn/split0": "66c0e825a40c5a9d", "confusing/cs-no-ft/split0": "9ee3f33b886e54ce",
        "incremental/ARPL/order2": "c2406da8fe8d8dc1", "figures/ARPL_CS/split0": "1a6aabe1c04da4cd",
        "figures/RPL_lambda0/split0": "b48a893a1c1b716e", "figures/ARPLK4/known4": "196728dbb126de38",
        "ablations/RPL_cosine/lambda1": "daf1f46c3aba495c",
    },
    "smoke": {
        "train/Softmax/split1": "bea9a0b1c858e5a8", "train/GCPL/split1": "932fe900ebe1d823",
        "train/RPL/split1": "51e6c4cf48ba29b4", "train/ARPL/split1": "21cebd2899eb8e75",
        "train/ARPL/all": "879e29dd06b57efa", "confusing/cs/split0": "d4ed3c16473acba6",
        "confusing/cs-no-abn/split0": "f1adf207ecb2ac59", "confusing/cs-no-ft/split0": "b400d545fda5b1ab",
        "incremental/ARPL/order2": "12e2e186f06a1f1f", "figures/ARPL_CS/split0": "37e531de5950be31",
        "figures/RPL_lambda0/split0": "3ca0f5d0d83d095c", "figures/ARPLK4/known4": "27012d252d622b07",
        "ablations/RPL_cosine/lambda1": "1e27a3d1d78a06cc",
    },
    "cifar10": {
        "train/ARPL/split1": "6333ec00c19e3721", "train/ARPL/all": "ff6443b1cc8d4903",
        "confusing/cs/split0": "1320aa31a1885aee", "figures/ARPLK4/known4": "4a9418e75dc8d74e",
    },
    "imagenet": {
        "train/ARPL/split1": "ed747f26e745b213", "confusing/cs-no-ft/split0": "541db5ced4e58090",
    },
}


def _run_kinds(params: dict) -> dict:
    """The specs of each kind of run, as the stages build them."""
    figures = {"epochs": params["figures"]["epochs"]}
    two_d = {"backbone": params["figures"]["backbone"], "feat_dim": 2}
    cs = params["confusing"]
    cs_overrides = {"epochs": cs["epochs"] or params["train"]["epochs"], "lr": float(cs["lr"] or params["train"]["lr"])}
    kinds = {f"train/{method}/split1": run_specs(params, method, 6, split_run(1))
             for method in ("Softmax", "GCPL", "RPL", "ARPL")}
    kinds["train/ARPL/all"] = run_specs(with_train_subset(params, params["train"]["closed_set_per_class"]), "ARPL",
                                        10, "all")
    kinds.update({f"confusing/{variant}/split0": run_specs(params, "ARPL", 6, split_run(0), variant,
                                                           train_overrides=dict(cs_overrides))
                  for variant in ("cs", "cs-no-abn", "cs-no-ft")})
    kinds["incremental/ARPL/order2"] = run_specs(params, "ARPL", 5, order_run(2),
                                                 train_overrides={"epochs": params["incremental"]["epochs"]})
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


# Settings of these profiles changed on purpose after cb6fe79 (channels_last on in the CPU default, which the
# cifar10 and smoke profiles inherit; imagenet set it itself; fewer all-class images in the CPU default); the
# test puts the cb6fe79 values back.
CHANGED_SINCE_CB6FE79 = {
    "cpu-default": {"train": {"channels_last": False, "closed_set_per_class": 1000}},
    "smoke": {"train": {"channels_last": False}},
    "cifar10": {"train": {"channels_last": False}},
    "imagenet": {},
}


@pytest.mark.parametrize("profile", sorted(FINGERPRINTS_AT_CB6FE79))
def test_every_kind_of_run_keeps_its_fingerprint(profile, monkeypatch):
    monkeypatch.setattr(specs, "code_version", lambda: "code-version-fixed-for-the-test")
    params = profile_params(profile)
    for section, values in CHANGED_SINCE_CB6FE79[profile].items():
        params[section].update(values)
    kinds = _run_kinds(params)
    found = {kind: specs.fingerprint(*kinds[kind]) for kind in FINGERPRINTS_AT_CB6FE79[profile]}
    assert found == FINGERPRINTS_AT_CB6FE79[profile]


def test_settings_are_read_by_field_name_and_cast_to_the_field_type(smoke_params):
    params = copy.deepcopy(smoke_params)
    params["train"].update(lr=1, milestones=[1, 2], amp=True)
    params["confusing"]["ngf"] = 12
    spec = train_spec(params, split_run(3))
    assert spec.lr == 1.0 and isinstance(spec.lr, float) and spec.milestones == (1, 2) and spec.amp
    assert spec.seed == params["run"]["seed"] + 3 and spec.ngf == TrainSpec().ngf  # plain runs: no GAN settings
    assert train_spec(params, split_run(3), "cs").ngf == 12
    model = model_spec(params, "ARPL", 6)
    assert (model.in_channels, model.image_size, model.feat_dim) == (params["data"]["channels"],
                                                                     params["data"]["image_size"], 16)


def test_a_new_setting_needs_only_its_field():
    @dataclass(frozen=True)
    class Spec:
        epochs: int = setting("train", 1)
        label_smoothing: float = setting("train", 0.0)
        seed: int = 0

    assert from_sections(Spec, {"train": {"epochs": 3, "label_smoothing": 1}}, seed=7) == Spec(3, 1.0, 7)
    assert from_sections(Spec, {}) == Spec()
    with pytest.raises(KeyError, match="Spec.label_smoothing reads train.label_smoothing, which params.yaml lacks"):
        from_sections(Spec, {"train": {"epochs": 3}})


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
    params["data"]["splits"], params["train"]["closed_set"] = [2, 0, 1], True
    params["confusing"]["ablation_trials"] = 1
    every_run = ["split2", "split0", "split1", "all"]
    assert stage_runs(params) == every_run
    assert stage_runs(params, "cs") == every_run
    assert stage_runs(params, "cs-no-abn") == stage_runs(params, "cs-no-ft") == ["split2", "all"]
    params["confusing"]["ablation_trials"] = None
    assert stage_runs(params, "cs-no-ft") == every_run
