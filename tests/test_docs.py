"""The docs describe the product as it is: every setting in the README, no work-log labels anywhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_in_the_readme_table():
    from rag.settings import Settings

    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"| `RAG_{name.upper()}` |" not in readme]
    assert not missing


def test_the_guides_stay_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260
    assert len((ROOT / "models" / "MODEL_CARD.md").read_text().splitlines()) <= 160


def test_no_work_log_labels_in_the_project():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    word = "sess" + "ion"  # spelt in two so that this file does not name itself
    label = re.compile(rf"\b{word}s? [0-9]|\b{word}-[0-9]|\bin {word}\b", re.I)
    found = [
        f
        for f in files
        if not f.endswith((".png", ".onnx", ".jsonl")) and (ROOT / f).is_file() and label.search((ROOT / f).read_text(errors="ignore"))
    ]
    assert not found


def test_the_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("```", 2)[1]
    assert "make run" in head and "make test" in head
