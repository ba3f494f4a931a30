"""docs/model-to-plan.md runs as written, its Python and shell blocks in page order in a
temporary folder, at a small size (fewer, smaller batches)."""

import re
import shlex
from pathlib import Path

import pytest

from recsim.cli import main

pytest.importorskip("torchrec")

PAGE = Path(__file__).resolve().parents[1] / "docs" / "model-to-plan.md"
SMALL = {"BATCHES, BATCH_SIZE = 300, 256": "BATCHES, BATCH_SIZE = 20, 64"}


def blocks() -> list[tuple[str, str]]:
    return re.findall(r"^```(python|bash)\n(.*?)^```", PAGE.read_text(), re.S | re.M)


def test_the_page_shrinks_and_has_every_step():
    text = PAGE.read_text()
    assert all(big in text for big in SMALL)
    commands = " ".join(code for lang, code in blocks() if lang == "bash")
    for step in ("trace stats", "simulate", "plan", "--torchrec"):
        assert step in commands


def test_model_to_plan_page_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for lang, code in blocks():
        if lang == "python":
            for big, small in SMALL.items():
                code = code.replace(big, small)
            exec(compile(code, str(PAGE), "exec"), namespace)
            continue
        for line in code.splitlines():
            if line.strip():
                assert main(shlex.split(line)[1:]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "table_0" in out and "constraints.json" in out
    assert re.search(r"table_\d fused_uvm_caching 0\.\d+", out)
