"""The results store of an experiment: one JSON file per finished cell, and the tidy table.

A cell is keyed by a hash of its resolved configuration (trace identity, buffer, geometry,
policy and prefetcher with every parameter resolved to its value, latencies, seed) and of
the code version. The code version is the package version plus a hash of every source
file of ``recsim`` and its plug-in packages, so editing a policy invalidates its cells
while a README edit does not; the git commit (``git describe --always --dirty``, when the
package sits in a git checkout) is recorded beside it for the reader.

Layout under the output folder::

    cells/KEY.json        one finished cell (written atomically by the process that runs
                          the sweep, as soon as the cell returns)
    results.parquet       the table, one row per cell of the sweep, in sweep order
    results.csv           the same, for spreadsheets (nested fields as JSON text)
    results.json          the same rows with nested fields as objects

A killed sweep leaves only whole cell files (temp file + rename), so a re-run skips the
finished cells and computes the rest; ``--force`` recomputes every cell. Cell files of
other configurations or code versions stay in ``cells/`` and are ignored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import recsim
from recsim.files import atomic_output

# Columns that differ between two runs of the same cell.
TIMING_FIELDS = ("wall_s", "timings")


@cache
def _source_dirs() -> tuple[Path, ...]:
    import recsim.policies
    import recsim.prefetchers
    import recsim.traces

    return tuple(Path(m.__file__).parent for m in (recsim, recsim.policies, recsim.prefetchers,
                                                    recsim.traces))


@cache
def code_version() -> str:
    """``VERSION+HASH``: the package version and a hash of every source file."""
    digest = hashlib.sha256()
    for root in _source_dirs():
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return f"{recsim.__version__}+{digest.hexdigest()[:12]}"


@cache
def git_commit() -> str | None:
    """The checkout's ``git describe --always --dirty``, or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, cwd=_source_dirs()[0], timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def cell_key(config: dict) -> str:
    """The hash of a resolved cell configuration and the code version."""
    blob = json.dumps({"config": config, "code": code_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultsStore:
    """Finished cells under ``OUT/cells/`` and the table files under ``OUT``."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.cells = self.out / "cells"

    def get(self, key: str) -> dict | None:
        """The finished row of cell ``key``, or None (a missing or unreadable file)."""
        try:
            return json.loads((self.cells / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, row: dict) -> None:
        with atomic_output(self.cells / f"{key}.json") as tmp:
            tmp.write_text(json.dumps(row))

    def write_table(self, rows: list[dict]) -> None:
        """``results.parquet``, ``results.csv`` and ``results.json``, each atomically."""
        # every column of any row (a policy's own counters appear in its rows only)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        flat = [{k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                 for k, v in ((k, r.get(k)) for k in columns)} for r in rows]
        with atomic_output(self.out / "results.parquet") as tmp:
            pq.write_table(pa.Table.from_pylist(flat), tmp)
        with atomic_output(self.out / "results.csv") as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(flat)
        with atomic_output(self.out / "results.json") as tmp:
            tmp.write_text(json.dumps(rows, indent=1))
