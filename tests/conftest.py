"""Shared fixtures: the repository root, a validated params dict of the smoke profile, a temporary
working folder for stages that write ``runs/``."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from arpl.pipeline.profile import profile_text

ROOT = Path(__file__).resolve().parents[1]

# DVC's usage analytics would start a daemon per command that leaves a file in /tmp and tries the network.
os.environ["DVC_NO_ANALYTICS"] = "1"


@pytest.fixture(scope="session")
def smoke_params_raw() -> dict:
    return yaml.safe_load(profile_text("smoke"))


@pytest.fixture
def smoke_params(smoke_params_raw) -> dict:
    """A fresh copy of the smoke profile, with the data root pointing at the repository's data/raw."""
    params = copy.deepcopy(smoke_params_raw)
    params["run"]["data_root"] = str(ROOT / "data" / "raw")
    return params
