"""The RecMG paper configuration beside our default, and the ablation of each deviation
(issue 23; tables in docs/recmg.md).

    python benchmarks/recmg_ablation.py [--workdir results/recmg_ablation] [--only NAME ...]

Runs, one after another, ``recsim run`` of ``experiments/recmg_quick.yaml`` (the default),
``experiments/recmg_paper.yaml`` (the paper) and of variants of the default that each switch
one deviation back to the paper's reading (:data:`VARIANTS`), each in
``WORKDIR/NAME``; then writes ``WORKDIR/tables.md``. A variant starts from the default's
generated trace and from its checkpoints of the models whose training it does not change
(``recsim run`` resumes a finished checkpoint only when kind, parameters and training data
match, so a shared checkpoint is the one the variant would train). A finished variant
(its ``results.json`` exists) is not run again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# name: (description, changes to recmg_quick.yaml); "default" and "paper" are the YAMLs
VARIANTS = {
    "keep1": ("C[i] in the paper's units (keep: 1)", {"policy_params": {"keep": 1}}),
    "abs": (r"\|x - y\| (L1) in Eq. 5", {"params": {"recmg-prefetch": {"distance": "abs"}}}),
    "projection": ("index-projection output",
                   {"params": {"recmg-prefetch": {"output": "projection"}}}),
    "stacks2": ("2 LSTM stacks", {"params": {"recmg-prefetch": {"layers": 2}}}),
    "ids": ("row and table ids as inputs (both models)",
            {"params": {"recmg-cache": {"encoding": "ids"},
                        "recmg-prefetch": {"encoding": "ids"}}}),
    "paper15": ("the paper configuration at the default's 15% buffer", {"capacity": 0.15}),
    "default20": ("the default at the paper's 20% buffer", {"capacity": 0.2}),
}
THREADS = 1  # torch threads: on a shared 2-core machine two threads wait on each other
ROWS = ("LRU", "SRRIP", "CM", "LRU+PF", "RecMG", "Belady")


def variant(name: str) -> dict:
    quick = yaml.safe_load((ROOT / "experiments/recmg_quick.yaml").read_text())
    paper = yaml.safe_load((ROOT / "experiments/recmg_paper.yaml").read_text())
    if name in ("default", "paper"):
        return {**{"default": quick, "paper": paper}[name], "threads": THREADS}
    base = paper if name == "paper15" else quick
    return {**base, **VARIANTS[name][1], "name": f"recmg_{name}", "threads": THREADS}


def _reusable(kind: str, cfg: dict, default: dict) -> bool:
    """Whether ``cfg`` trains ``kind`` exactly as ``default`` does."""
    same_params = (cfg.get("params") or {}).get(kind) == (default.get("params") or {}).get(kind)
    data = ("train_accesses", "trace", "epochs", "seed") + (
        () if kind == "transfetch" else ("capacity", "ways", "label_fraction"))
    return same_params and all(cfg.get(k) == default.get(k) for k in data)


def run(name: str, workdir: Path) -> None:
    out = workdir / name
    if (out / "results.json").exists():
        return
    cfg = variant(name)
    default, src = variant("default"), workdir / "default"
    if name != "default" and (src / "results.json").exists():
        shutil.copytree(src / "traces", out / "traces", dirs_exist_ok=True)
        for kind in ("recmg-cache", "recmg-prefetch", "transfetch"):
            if _reusable(kind, cfg, default):
                (out / "models").mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / "models" / f"{kind}.pt", out / "models" / f"{kind}.pt")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    print(f"== {name}", flush=True)
    subprocess.run([sys.executable, "-m", "recsim.cli", "run", str(out / "config.yaml"),
                    "--output", str(out)], check=True)


def tables(workdir: Path) -> str:
    done = {n: json.loads((workdir / n / "results.json").read_text())
            for n in ("default", "paper", *VARIANTS) if (workdir / n / "results.json").exists()}
    lines = ["| replay | " + " | ".join(done) + " |", "|---" * (len(done) + 1) + "|"]
    lines += [f"| {r} | " + " | ".join(f"{d['hit_rate'][r]:.4f}" for d in done.values()) + " |"
              for r in ROWS]
    for metric in ("caching accuracy", "recmg correctness", "recmg window precision",
                   "recmg coverage (Eq. 2)", "recmg miss reduction"):
        lines.append(f"| {metric} | " + " | ".join(f"{d['quality'][metric]:.1%}"
                                                   for d in done.values()) + " |")
    if "default" in done:
        base = done["default"]["hit_rate"]
        lines += ["", "| switched to the paper's reading (alone, 15% buffer) | CM | LRU+PF | "
                  "RecMG |", "|---|---|---|---|"]
        for name, (what, _) in VARIANTS.items():
            if name in done and name not in ("paper15", "default20"):
                h = done[name]["hit_rate"]
                lines.append(f"| {what} | " + " | ".join(
                    f"{h[r] - base[r]:+.4f}" for r in ("CM", "LRU+PF", "RecMG")) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("results/recmg_ablation"))
    ap.add_argument("--only", nargs="*", help="run these only (default: all, default first)")
    args = ap.parse_args()
    for name in args.only or ("default", "paper", *VARIANTS):
        run(name, args.workdir)
        (args.workdir / "tables.md").write_text(tables(args.workdir))
    print(tables(args.workdir))


if __name__ == "__main__":
    main()
