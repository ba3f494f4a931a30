"""docs/write-a-policy.md runs as written, from a folder of the author's own (not the
checkout): its files (``my_mru.py``, ``test_my_mru.py``, ``mru.yaml``) are written from
the page's blocks, and every line of its shell blocks runs there or is skipped by a
reason in :data:`SKIP` (a skip that matches no line fails). Sizes are shrunk as in
test_readme.py; each command runs in its own process (the page's ``mru`` must not meet the
test fixtures' ``mru`` in this one)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "write-a-policy.md"
SKIP = {"python -m pdb": "an interactive debugger session"}
SMALL = {"--accesses 100000": "--accesses 20000", "--rows 10000": "--rows 2000",
         "--accesses 1000000": "--accesses 20000 --keys 2000",
         "accesses: 1000000": "accesses: 20000", "rows: 100000": "rows: 2000"}


def _shrunk(text: str) -> str:
    for big, small in SMALL.items():
        text = text.replace(big, small)
    return text


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), re.S | re.M)


def _lines() -> list[str]:
    return [re.sub(r"\s+#.*$", "", line).strip() for block in _blocks("bash")
            for line in block.splitlines() if line.strip()]


def _run(line: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(_shrunk(line).replace("$RECSIM", str(ROOT)))
    head = {"recsim": [sys.executable, "-m", "recsim.cli"], "python": [sys.executable],
            "pytest": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]}
    return subprocess.run(head[argv[0]] + argv[1:], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "RECSIM": str(ROOT)}, timeout=600)


@pytest.mark.slow
def test_write_a_policy_runs_as_written_from_any_folder(tmp_path):
    author = tmp_path / "my-policy"
    author.mkdir()
    for block in _blocks("python") + _blocks("yaml"):
        first = block.splitlines()[0]
        if re.fullmatch(r"# [\w.]+\.(py|yaml)", first):
            (author / first[2:]).write_text(_shrunk(block))
    assert {p.name for p in author.iterdir()} == {"my_mru.py", "test_my_mru.py", "mru.yaml"}
    for key in SKIP:
        assert any(key in line for line in _lines()), f"SKIP entry {key!r} matches no line"
    ran = []
    for line in _lines():
        if any(key in line for key in SKIP):
            continue
        # pytest from another folder: the test file finds its plug-in by its own path
        where = tmp_path if line.startswith("pytest") else author
        target = str(author / line.split()[1]) if line.startswith("pytest") else None
        done = _run(line.replace(line.split()[1], target) if target else line, where)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        ran.append(line.split()[0])
    assert {"recsim", "python", "pytest"} <= set(ran)
