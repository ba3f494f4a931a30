"""The README and the docs' command page run as written: every ``recsim ...`` line of their
shell blocks and every Python block, on small traces with the names they use, in a temporary
folder (a command in both runs once).

Trace generation is shrunk (``--accesses``, ``--rows``) and the imported traces the
pages name (``day0.trace``, ...) are small generated stand-ins; every other argument is
the pages'. Lines that need third-party files, trained models, a finished run or
minutes of work are skipped by the reasons in :data:`SKIP`, and a skip that matches no
line fails, so the list stays true.
"""

import re
import shlex
from pathlib import Path

import pytest

from recsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = (README, ROOT / "docs" / "cli.md")  # the pages whose blocks run

# A substring of a command line -> why this test does not run it.
SKIP = {
    "pip install": "installs packages (the quickstart, run by hand)",
    "pytest": "the test suite itself",
    "trace import fbgemm_t856": "needs Meta's dlrm_datasets file",
    "trace import Video.txt": "needs the Amazon Video file",
    "trace import day_0": "needs the Criteo click log (or TorchRec's .npy of it)",
    "trace import dlrm.capture": "needs a capture (tests/test_model_to_plan.py makes one)",
    "trace import batches.kjt": "needs saved KJTs (tests/test_capture.py saves some)",
    "trace import ml-1m/": "needs the MovieLens folder",
    "recsim run ": "a sweep of seconds to minutes (tests/test_experiment.py runs small ones)",
    "recsim report ": "needs a finished run's results folder",
    "recsim train ": "trains a model for minutes (tests/test_recmg_*.py train small ones)",
    "--param model=cache.pt": "needs trained models",
    "recsim compile ": "compiles for a minute (tests/test_input.py compiles a small loop)",
    "recsim calibrate": "times a model for minutes (tests/test_harness.py calibrates a small one)",
}
# The traces the commands read, made small up front (so each line runs alone):
# those it generates, and stand-ins for those it imports from third-party files.
TRACES = ("zipf.trace", "meta.trace", "day0.trace", "criteo.trace", "video.trace", "ml.trace")
SMALL = {"--accesses": "20000", "--rows": "2000", "--capacity 2000": "--capacity 200",
         "--unique": "1000"}


def _blocks(language: str, pages=PAGES) -> list[str]:
    blocks = [b for page in pages
              for b in re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.S | re.M)]
    return list(dict.fromkeys(blocks))


def _commands(pages=PAGES) -> list[str]:
    lines = []
    for block in _blocks("bash", pages):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            lines += [part.strip() for part in line.split(";") if part.strip()]
    return list(dict.fromkeys(lines))


def _shrunk(line: str) -> list[str]:
    """A command line as argv: optional ``[...]`` parts dropped, sizes made small."""
    line = re.sub(r"\s*\[[^]]*\]", "", line)
    for flag, small in SMALL.items():
        if " " in flag:
            line = line.replace(flag, small)
        else:
            line = re.sub(rf"{flag} \d+", f"{flag} {small}", line)
    return shlex.split(line)[1:]


COMMANDS = _commands()
RUN = [c for c in COMMANDS if c.startswith("recsim ") and not any(s in c for s in SKIP)]


def test_every_skip_matches_a_readme_line_and_every_line_is_covered():
    assert RUN, "no recsim command found in README.md or docs/cli.md"
    assert any(c.startswith("recsim ") for c in _commands([README])), "none in README.md"
    for key in SKIP:
        assert any(key in c for c in COMMANDS), f"SKIP entry {key!r} matches no line"
    stray = [c for c in COMMANDS if not c.startswith("recsim ") and
             not any(s in c for s in SKIP)]
    assert not stray, f"shell lines neither run nor skipped: {stray}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme")
    (path / "calibrations").symlink_to(README.parent / "calibrations")  # as from the root
    (path / "accesses.csv").write_text("batch,table,row\n0,0,17\n0,1,-4\n1,0,17\n")
    for name in TRACES:
        assert main(["trace", "gen", "zipf", "-o", str(path / name), "--accesses", "20000",
                     "--tables", "2", "--rows", "2000", "--seed", "1"]) == 0
    return path


@pytest.mark.parametrize("line", RUN)
def test_readme_command_runs(line, workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    argv = _shrunk(line)
    if argv[:2] == ["trace", "gen"]:
        argv.append("--force")  # over the small trace made up front
    assert main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize("block", _blocks("python"))
def test_readme_python_block_runs(block, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    exec(compile(block, "<docs python block>", "exec"), {})
