"""The documentation names only files that exist: a renamed or removed module must take its mentions along."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]
SOURCE_PATH = re.compile(r"\b(?:arpl|tests|notebooks|scripts|benchmarks|docs)/[A-Za-z0-9_./-]*[A-Za-z0-9_]")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_a_document_names_exists(document):
    named = set(SOURCE_PATH.findall(document.read_text()))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{document.name} names files that do not exist: {missing}"
