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


README = ROOT / "README.md"
SCREENSHOT = ROOT / "docs" / "report_front_page.png"


def _shell_lines(text: str) -> list[str]:
    """The lines of the document's ```bash blocks, comments removed."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_test_command_is_what_ci_runs():
    commands = _shell_lines(README.read_text())
    assert commands[:2] == ["bash scripts/reproduce.sh", "bash scripts/test.sh"], commands[:2]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "bash scripts/test.sh" in ci, "the README's test command is not what .ci/run calls"


def test_every_arpl_subcommand_a_document_names_exists():
    from arpl.__main__ import COMMANDS

    subcommands = set(COMMANDS)
    for document in DOCUMENTS:
        named = set(re.findall(r"python -m arpl ([a-z][a-z-]*)", document.read_text()))
        assert named <= subcommands, f"{document.name} names unknown subcommands: {sorted(named - subcommands)}"


def test_the_readme_shows_a_real_screenshot_of_the_report():
    from PIL import Image

    assert f"]({SCREENSHOT.relative_to(ROOT)})" in README.read_text()
    with Image.open(SCREENSHOT) as image:
        assert image.format == "PNG" and image.width >= 800 and image.height >= 500, (image.format, image.size)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, "a blank or nearly blank image"
