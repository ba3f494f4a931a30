"""The ``recsim`` command line.

    recsim trace import SRC -o OUT.trace [--force] [--format F] [--batch-size N] [--tables 0 3 ...]
                        [--order O] [--columns C1 C2 ...] [--rows-per-table R]
    recsim trace export TRACE -o OUT [--format F]
    recsim trace info TRACE [--json]
    recsim trace stats TRACE [--json] [--plot OUT.png]
    recsim trace gen zipf|meta-like|hitrate -o OUT.trace --accesses N [--force] [--seed S]
                     [--tables T] [--rows R] [--alpha A] [--hit-rate H] [--capacity C]
                     [--unique U] [--param KEY=VALUE ...]
    recsim simulate --trace T --policy P[,P2,...] [--prefetcher F] --capacity C [--ways W] [--json]
                    [--dedup batch] [--chunk N] [--eval-after N]
    recsim run FILE.yaml [--output DIR] [--scale S] [--workers N] [--executor local|ray]
                         [--address RAY_ADDRESS] [--force]
    recsim report RESULTS_DIR
    recsim train recmg-cache|recmg-prefetch|transfetch --trace T -o MODEL.pt
                 [--train-accesses N] [--capacity C] [--ways W] [--label-fraction F]
                 [--epochs E] [--batch-size B] [--lr LR] [--patience P] [--seed S]
                 [--threads N] [--param KEY=VALUE ...] [--resume]
    recsim calibrate [--backend tiered|fbgemm] [-o calibrations/NAME.json] [--tables T]
                     [--rows R] [--dim D] [--samples B] [--pooling L] [--unique U]
                     [--capacity C] [--ways W] [--hit-rates H ...] [--batches N]
                     [--warmup N] [--threads N] [--no-dense] [--device DEV] [--seed S]
    recsim mrc TRACE [--sample R] [--seed S] [--force] [--json]
              [--plot OUT.png] [--torchrec OUT [--bins N]]
    recsim mrc TRACE --policy P [--param K=V] [--ways W] [--sizes 1%,5%] [--sample R]
               [--salts S] [--seed S] [--no-training-sets] [--json]
    recsim plan TRACE --budget BYTES [--dim D] [--dtype fp16] [--calibration FILE]
               [--ways W] [--no-verify] [-o OUT.json] [--json] [--torchrec OUT.json]
               [--policy P] [--param K=V] [--sample R] [--salt S]
    recsim compile [POLICY[+PREFETCHER] ... | --all] [--kinds K ...] [--workers N]
    recsim policies | prefetchers

Global option, before the command: ``--plugin FILE.py`` (repeatable) loads the policies and
prefetchers a Python file defines.

Input problems print one line, ``recsim: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import textwrap
import time
import warnings
from collections import Counter
from pathlib import Path

import yaml

from recsim.errors import ConfigError, RecsimError, RecsimWarning
from recsim.engine.settings import declared
from recsim.engine.warm import KINDS
from recsim.plugin import MODEL_KINDS
from recsim.harness import HIT_RATES, SIZES


def _split(text: str) -> list[str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return text.split("=", 1)


def _kv(text: str) -> tuple[str, object]:
    """``key=value`` with the value parsed as YAML (numbers, booleans, strings)."""
    key, value = _split(text)
    return key, yaml.safe_load(value)


def _param(text: str) -> tuple[str, object]:
    """``key=value`` of a plug-in or generator: the value stays text, which the parameter's
    spec parses (:class:`recsim.plugin.Text`)."""
    from recsim.plugin import Text

    key, value = _split(text)
    return key, Text(value)


def _trace_options(args) -> dict:
    """The format options given on the command line (the format module checks them)."""
    names = ("batch_size", "tables", "order", "columns", "rows_per_table")
    return {name: getattr(args, name) for name in names
            if getattr(args, name, None) is not None}


def _new_output(args) -> None:
    """Refuse to replace an existing ``--output`` unless ``--force``."""
    if args.output.exists() and not args.force:
        raise ConfigError(f"{args.output}: exists; pass --force to replace it")


def cmd_trace_import(args) -> None:
    from recsim.traces import load_trace, save_trace

    _new_output(args)
    trace = load_trace(args.src, args.format, **_trace_options(args))
    if args.cardinality:
        trace = trace.with_cardinalities(args.cardinality, "--cardinality")
    path = save_trace(trace, args.output, "native")
    print(f"{path}: {trace.n_accesses:,} accesses in {trace.n_batches:,} batches, "
          f"{trace.n_tables} tables")


_FORMATS = "(the trace formats)"  # trace import's epilog, filled in by _FormatsHelp


def formats_text() -> str:
    """The trace formats, built in and installed, one line each: name, file names, what
    it holds (the first sentence of its module's docstring)."""
    from recsim.traces import format_module, formats

    lines = ["formats (--format NAME; default: from the file name):"]
    for name in formats():
        module = format_module(name)
        doc = " ".join((module.__doc__ or "").split("\n\n")[0].split())
        what = re.sub(r"(:\w+:)?`+([^`]*)`+", r"\2", doc.split(". ")[0].rstrip("."))
        ext = ", ".join(module.EXTENSIONS) or "--format only"
        lines.append(textwrap.fill(f"{name} ({ext}): {what}", 90, initial_indent="  ",
                                   subsequent_indent="      "))
    return "\n".join(lines)


class _FormatsHelp(argparse.RawDescriptionHelpFormatter):
    """``trace import --help``: its epilog lists the formats, read when the help is shown
    (importing every format module at every start would slow each command)."""

    def add_text(self, text):
        super().add_text(formats_text() if text == _FORMATS else text)


def cmd_trace_export(args) -> None:
    from recsim.traces import load_trace, save_trace

    _new_output(args)
    trace = load_trace(args.trace)
    path = save_trace(trace, args.output, args.format)
    print(f"{path}: {trace.n_accesses:,} accesses")


def cmd_trace_info(args) -> None:
    from recsim.traces import load_trace

    info = load_trace(args.trace, args.format).info()
    if args.json:
        print(json.dumps(info, indent=1))
        return
    shown = 32  # tables whose cardinality the text lists (--json: all)
    for key, value in info.items():
        if key == "cardinalities" and len(value) > shown:
            value = f"{value[:shown]} ({shown} of {len(value):,} shown; --json lists all)"
        print(f"{key:>16}: {value}")


def _print_items(title: str, items) -> None:
    """``title: item  item ...`` on lines of at most 100 columns, items never split."""
    line = f"  {title}:"
    for item in items:
        if len(line) + 2 + len(item) > 100:
            print(line)
            line = "     "
        line += f"  {item}"
    print(line)


def cmd_trace_stats(args) -> None:
    from recsim.traces import load_trace
    from recsim.traces.stats import plot_stats, trace_stats

    stats = trace_stats(load_trace(args.trace, args.format))
    if args.plot:
        plot_stats(stats, args.plot)
    if args.json:
        print(json.dumps(stats, indent=1))
        return
    n = stats["num_indices"]
    alpha = stats["zipf_alpha"]
    print(f"{stats['name']}: {n:,} accesses, {stats['num_unique']:,} unique vectors "
          f"({100 * stats['unique_fraction']:.2f}%), {stats['tables']} tables, "
          f"{stats['batches']:,} batches")
    print(f"  accesses per unique vector {stats['avg_reuse_per_unique']:.2f}; Zipf alpha "
          f"{'-' if alpha is None else f'{alpha:.3f}'} (least squares, top 10,000 ranks)")
    succ = stats["successor_accuracy"]
    print(f"  next lookup of a table predicted by its most frequent successor (fitted on the "
          f"first half): {'-' if succ is None else f'{100 * succ:.1f}%'}")
    _print_items("lookups per (batch, table)", (
        f"{k} {v:.1f}" if k == "mean" else f"{k} {v:,}"
        for k, v in stats["lookups_per_batch_table"].items()))
    rd = stats["reuse_distance"]
    _print_items("reuse distance, % of accesses", [
        f"first {100 * rd['first_accesses'] / n:.1f}",
        *(f"[{k}) {100 * c / n:.1f}" for k, c in rd["counts"].items()),
        f"> 2^20 {100 * rd['frac_distance_above_2^20']:.2f}"])
    _print_items("reuse count, % of unique / % of accesses", (
        f"{k if '+' in k else f'[{k})'} {100 * u:.1f}/{100 * a:.1f}" for (k, u), a in zip(
            stats["frac_of_unique_by_reuse_count"].items(),
            stats["frac_of_accesses_by_reuse_count"].values())))
    mrc = stats["lru_mrc"]
    _print_items("LRU miss ratio, fully associative, by buffer % of unique vectors", (
        f"{round(100 * f)}% {m:.4f}" for f, m in zip(mrc["fraction"], mrc["miss_ratio"])
        if round(100 * f) in (1, 2, 5, 10, 20, 50, 100)))
    top = sorted(stats["per_table"], key=lambda t: -t["access_share"])[:5]
    _print_items("top tables by access share", (
        f"{t['name']} {100 * t['access_share']:.1f}% ({t['unique']:,} of "
        f"{t['cardinality']:,} rows)" for t in top))
    if args.plot:
        print(f"  plot: {args.plot}")


def cmd_trace_gen(args) -> None:
    from recsim.traces import generate_trace

    _new_output(args)
    flags = ("accesses", "seed", "batch_size", "tables", "rows", "alpha", "hit_rate",
             "capacity", "unique")
    params = {name: getattr(args, name) for name in flags if getattr(args, name) is not None}
    trace = generate_trace(args.preset, path=args.output, **params, **dict(args.param))
    print(f"{args.output}: {trace.n_accesses:,} accesses, {trace.n_unique:,} unique vectors")
    if "lru_hit_rate" in trace.meta.get("provenance", {}):
        print(f"  fully associative LRU hit rate {trace.meta['provenance']['lru_hit_rate']:.4f}")


def cmd_simulate(args) -> None:
    from recsim.engine.replay import replay
    from recsim.engine.settings import ReplaySettings
    from recsim.traces import load_trace

    settings = ReplaySettings(**{name: getattr(args, name) for name in declared()})
    trace = load_trace(args.trace)
    if "," in args.policy:
        return _compare(args, trace, settings)
    result = replay(trace, settings, args.policy, args.prefetcher, dict(args.param),
                    dict(args.pf_param), per_table=args.per_table, window=args.window,
                    chunk=args.chunk)
    if args.json:
        print(result.to_json(indent=1))
        return
    c = result.counts
    geometry = ("fully associative" if result.sets == 1
                else f"{result.sets} sets x {result.ways} ways")
    print(f"{result.policy} + {result.prefetcher}, {result.capacity:,} vectors, {geometry}")
    if "sample" in result.params:
        sample = result.params["sample"]
        how = "exact in the sampled sets" if sample["exact"] else "approximate"
        training = (f", the policy's {sample['training_sets']:,} training sets replayed too"
                    if sample.get("training_sets") else "")
        print(f"  sampled ({sample['method']}, rate {sample['effective']:.4g}, salt "
              f"{sample['salt']}, {how}): {sample['kept_accesses']:,} of "
              f"{sample['accesses']:,} accesses counted{training}")
    print(f"  accesses {c['accesses']:,}  hits {result.hits:,}  misses {result.misses:,}  "
          f"hit rate {result.hit_rate:.4f}")
    print(f"  cache hits {c['cache_hits']:,}  prefetch hits {c['prefetch_hits']:,}  "
          f"late {c['late_prefetches']:,}  merged {c['merged_misses']:,}  "
          f"compulsory {c['compulsory_misses']:,}  evictions {c['evictions']:,}")
    if result.prefetcher != "none":
        util = "-" if result.utilization is None else f"{result.utilization:.4f}"
        print(f"  prefetches issued {c['prefetches_issued']:,}  useful "
              f"{c['prefetches_useful']:,}  unused {c['prefetches_unused']:,}  utilization "
              f"{util}  pollution misses {c['pollution_misses']:,}"
              + (f"  unsampled (dropped) {c['prefetches_unsampled']:,}"
                 if "prefetches_unsampled" in c else ""))
    for name, total in result.to_dict().get("batch_counters", {}).items():
        print(f"  {name} {total:,}", end="")
    if result.batch_counters is not None:
        print()
    if result.per_table is not None:
        _print_per_table(trace, result.per_table["hit_rate"])
    if result.window_hit_rate is not None:
        _print_items(f"hit rate per window of {result.window:,} accesses",
                     (f"{r:.4f}" for r in result.window_hit_rate))
    t = result.timings
    print(f"  replay {t['replay_s']:.3f} s ({t['accesses_per_s'] / 1e6:.1f} M accesses/s), "
          f"compile {t['compile_s']:.2f} s, remap {t['remap_s']:.2f} s"
          + (f", model advice {t['advice_s']:.2f} s" if "advice_s" in t else ""))


def _print_per_table(trace, rates) -> None:
    """``simulate --per-table``: each table's hit rate, by name."""
    from recsim.traces.tables import table_names

    _print_items("hit rate per table", (f"{name} {'-' if r is None else f'{r:.4f}'}"
                                        for name, r in zip(table_names(trace), rates)))


def _compare(args, trace, settings) -> None:
    """``simulate --policy lru,s3fifo,srrip``: one replay per policy, the same trace and
    settings, as one table (one row per policy) or a JSON list, as libCacheSim's
    ``cachesim`` takes ``fifo,lru,arc``. Every name is checked before the first replay;
    ``--param`` is refused (which policy would it set?)."""
    from recsim.engine.replay import replay
    from recsim.registry import get_policy

    names = [name.strip() for name in args.policy.split(",")]
    for name in names:
        get_policy(name)
    if args.param:
        raise ConfigError("--param: one policy's parameter, but --policy names several; "
                          "compare policies at their defaults or run simulate per policy")
    results = [replay(trace, settings, name, args.prefetcher, {}, dict(args.pf_param),
                      per_table=args.per_table, window=args.window, chunk=args.chunk)
               for name in names]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
        return
    first = results[0]
    print(f"{trace.n_accesses:,} accesses, prefetcher {first.prefetcher}, "
          f"{first.capacity:,} vectors, "
          + ("fully associative" if first.sets == 1 else f"{first.sets} sets x {first.ways} ways"))
    print("| policy | hit rate | hits | misses | compulsory | evictions | prefetch hits | "
          "M accesses/s |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r.counts
        print(f"| {r.policy} | {r.hit_rate:.4f} | {r.hits:,} | {r.misses:,} | "
              f"{c['compulsory_misses']:,} | {c['evictions']:,} | {c['prefetch_hits']:,} | "
              f"{r.timings['accesses_per_s'] / 1e6:.1f} |")


def cmd_run(args) -> None:
    from recsim.experiments.collection import is_collection
    from recsim.experiments.schema import apply_scale, check_experiment, read_yaml
    from recsim.experiments.tables import summary_table

    raw, scale = apply_scale(read_yaml(args.file), args.file, args.scale)
    if isinstance(raw, dict) and raw.get("kind") == "recmg-evaluation":
        from recsim.recmg.evaluation import markdown, run_evaluation

        print(markdown(run_evaluation(args.file, raw, args.output, scale=scale)), end="")
        return
    if is_collection(raw):
        _run_collection(args, raw, scale)
        return
    exp = check_experiment(raw, args.file, scale)
    out = exp.output_dir(args.output)
    rows = _runner(exp)(exp, out, workers=args.workers, executor=args.executor,
                        address=args.address, force=args.force)
    if rows:
        print(summary_table(rows, exp.metrics), end="")
    print(f"report: {out / 'report.html'}")


def _runner(exp):
    """The function that runs ``exp``: a sweep replaying learned models trains or checks
    them first (:mod:`recsim.recmg.sweep`, torch)."""
    if exp.learned:
        from recsim.recmg.sweep import run_experiment
    else:
        from recsim.experiments.sweep import run_experiment
    return run_experiment


def _run_collection(args, raw: dict, scale) -> None:
    """``recsim run`` of a collection (:mod:`recsim.experiments.collection`): every member
    checked, its models too, before the first one runs."""
    from recsim.experiments.collection import load_collection, write_index

    coll, out, members = load_collection(args.file, raw, scale, args.output)
    for exp in members:
        if exp.learned:
            from recsim.recmg.sweep import check_models
            check_models(exp)
    seconds = {}
    for i, exp in enumerate(members, 1):
        print(f"[{i}/{len(members)}] {exp.name} ({exp.file})", flush=True)
        start = time.perf_counter()
        _runner(exp)(exp, out / exp.name, workers=args.workers, executor=args.executor,
                     address=args.address, force=args.force)
        seconds[exp.name] = time.perf_counter() - start
    print(f"report: {write_index(out, coll, members, seconds)[1]}")


def cmd_report(args) -> None:
    from recsim.experiments.report import write_report

    for path in write_report(args.dir):
        print(path)


def cmd_train(args) -> None:
    from recsim.recmg.train import TrainConfig, train

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         patience=args.patience, val_fraction=args.val_fraction,
                         seed=args.seed, threads=args.threads)
    ck = train(args.kind, args.trace, args.output, train_accesses=args.train_accesses,
               capacity=args.capacity, ways=args.ways, label_fraction=args.label_fraction,
               params=dict(args.param), config=config, resume=args.resume)
    best = min(ck["history"], key=lambda h: h["val_loss"])
    print(f"{args.output}: {ck['kind']}, {len(ck['history'])} epochs, best validation loss "
          f"{best['val_loss']:.4f} (epoch {best['epoch']}), "
          f"{sum(h['seconds'] for h in ck['history']):.0f} s")


def cmd_mini_mrc(args) -> None:
    """``recsim mrc --policy NAME[,NAME...] ...``: sampled replays per size
    (recsim.engine.sample), the samples shared by the policies."""
    from recsim.engine.replay import replay
    from recsim.engine.sample import DEFAULT_SIZES, sampled_mrc
    from recsim.traces import load_trace

    sizes = args.sizes.split(",") if args.sizes else DEFAULT_SIZES
    trace, cache = load_trace(args.trace, args.format), {}
    curves = [sampled_mrc(replay, trace, policy, sizes, args.sample, args.ways or 0, args.salts,
                          args.seed, dict(args.param), cache, args.training_sets)
              for policy in args.policy.split(",")]
    if args.json:
        print(json.dumps(curves[0] if len(curves) == 1 else curves, indent=1))
        return
    for curve in curves:
        how = "full replays" if curve["rate"] == 1 else (
            f"{curve['method']} sampling at {curve['rate']:g}, {curve['salts']} salt(s), "
            + ("exact in the sampled sets" if curve["exact"] else "approximate"))
        print(f"{args.trace}: {curve['policy']}, "
              f"{f'{args.ways} ways' if args.ways else 'fully associative'} ({how}, "
              f"{curve['seconds']:.1f} s)")
        print("| buffer (vectors) | miss ratio | salts' low | salts' high |\n|---|---|---|---|")
        for c, m, lo, hi in zip(curve["capacity"], curve["miss_ratio"], curve["low"],
                                curve["high"]):
            print(f"| {c:,} | {m:.4f} | {lo:.4f} | {hi:.4f} |")


def cmd_mrc(args) -> None:
    from recsim.engine.mrc import lru_mrc
    from recsim.traces import load_trace

    if args.policy is None and (args.sizes or args.ways is not None or args.param
                                or args.salts != 1 or not args.training_sets):
        raise ConfigError("mrc: --sizes, --ways, --param, --salts and --no-training-sets "
                          "need --policy NAME")
    if args.policy is not None and not args.torchrec:
        return cmd_mini_mrc(args)
    if args.policy not in (None, "lru"):
        raise ConfigError(f"mrc --torchrec: per-table curves exist for policy 'lru' only, "
                          f"got {args.policy!r}")
    if args.torchrec:
        from recsim.harness.torchrec_stats import write_torchrec_stats

        if args.sample != 1:
            raise ConfigError("mrc --torchrec: the per-table histograms are exact; drop "
                              "--sample")
        trace = load_trace(args.trace, args.format)
        write_torchrec_stats(trace, args.torchrec, args.bins)
        print(f"{args.torchrec}: TorchRec EmbeddingOffloadStats of {trace.n_tables} tables "
              f"({args.bins} bins each)")
        return
    curve = lru_mrc(load_trace(args.trace, args.format), args.sample, args.seed, args.force)
    if args.plot:
        from recsim.experiments import plots

        plots.miss_ratio_curve(curve, args.plot.parent, args.plot.stem)
    if args.json:
        print(json.dumps(curve, indent=1))
        return
    how = "exact" if curve["rate"] == 1 else (
        f"SHARDS at {curve['rate']:g}: {curve['kept_accesses']:,} accesses of "
        f"{curve['kept_vectors']:,} vectors kept, unique vectors estimated")
    print(f"{args.trace}: fully associative LRU, {curve['unique']:,} unique vectors ({how})")
    print("| buffer (% of unique) | vectors | miss ratio |\n|---|---|---|")
    for f, c, m in zip(curve["fraction"], curve["capacity"], curve["miss_ratio"]):
        if round(100 * f) in (1, 2, 5) or round(100 * f) % 10 == 0:
            print(f"| {100 * f:.0f}% | {c:,} | {m:.4f} |")
    if args.plot:
        print(f"plot: {args.plot.with_suffix('.png')}")


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10,
               "mib": 2**20, "gib": 2**30}


def _bytes(text: str) -> int:
    """A byte count: ``1073741824``, ``1.5GB`` or ``512MiB``."""
    t = text.strip().lower()
    number = t.rstrip("kmgib")
    try:
        return int(float(number) * _BYTE_UNITS[t[len(number):]])
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"expected bytes such as 2000000, 1.5GB or 512MiB, "
                                         f"got {text!r}") from None


def cmd_plan(args) -> None:
    from recsim.experiments.latency import load_calibration
    from recsim.experiments.plan import plan, table_row_bytes
    from recsim.traces import load_trace

    cal = load_calibration(args.calibration) if args.calibration else None
    trace = load_trace(args.trace, args.format)
    sizes = table_row_bytes(trace, args.dim, args.dtype)
    size = int(sizes[0]) if (sizes == sizes[0]).all() else sizes
    result = plan(trace, args.budget, size, cal, args.ways, not args.no_verify, args.policy,
                  args.sample, args.salt, dict(args.param))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1))
    if args.torchrec:
        from recsim.harness.torchrec_plan import write_constraints

        write_constraints(trace, result, args.torchrec)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.trace}: {result['accesses']:,} accesses, {result['tables']} tables, budget "
          f"{args.budget:,} bytes, {_row_bytes_text(sizes)} per row, policy {args.policy}"
          + (f" (curves sampled at {args.sample:g})" if args.sample < 1 else ""))
    print("| split | bytes used | miss ratio | est. latency ms |\n|---|---|---|---|")
    for name in ("plan", "uniform", "shared"):
        r = result[name]
        est = f"{r['est_latency_ms']:.3f}" if "est_latency_ms" in r else "-"
        print(f"| {name} | {r['bytes']:,} | {r['miss_ratio']:.4f} | {est} |")
    if result["budget_holds_all"]:
        print(f"the budget holds every table ({result['table_bytes']:,} bytes): every row "
              f"is cached, only compulsory misses remain")
    print(f"uniform load factor {result['uniform']['load_factor']:.4f}; plan load factors: "
          + ", ".join(f"{result['table_names'][t]} {f:.3f}" for t, f in
                      sorted(enumerate(result["plan"]["load_factor"]),
                             key=lambda tf: -trace.table_rows[tf[0]])[:8]) + " (largest)")
    if "replay" in result:
        r = result["replay"]
        print(f"replay, per-table buffers: fully associative {r['fully_associative_misses']:,} "
              f"misses (plan {result['plan']['misses']:,}); {r['set_associative_ways']}-way "
              f"{r['set_associative_misses']:,} (miss ratio "
              f"{r['set_associative_miss_ratio']:.4f}, "
              f"{r['set_associative_miss_ratio'] - result['plan']['miss_ratio']:+.4f})")
        print(f"  prediction error (replayed - predicted miss ratio, fully associative): "
              f"{r['prediction_error']:+.4f}")
    print("  " + ", ".join(f"{k} {v:.2f}" for k, v in result["timings"].items()))
    if args.torchrec:
        print(f"{args.torchrec}: TorchRec constraints (load factor and EmbeddingOffloadStats) "
              f"of {trace.n_tables} tables")


def _row_bytes_text(sizes) -> str:
    """``16 bytes``, or ``16-64 bytes`` for tables of mixed row sizes."""
    lo, hi = int(sizes.min()), int(sizes.max())
    return f"{lo} bytes" if lo == hi else f"{lo}-{hi} bytes"


def cmd_calibrate(args) -> None:
    from recsim.harness.calibrate import calibrate, write_calibration

    sizes = {name: getattr(args, name) for name in SIZES}
    cal = calibrate(args.backend, hit_rates=args.hit_rates, batches=args.batches,
                    warmup=args.warmup, threads=args.threads or None, dense=args.dense,
                    seed=args.seed, device=args.device, **sizes)
    for p in cal["points"]:
        print(f"miss rate {p['miss_rate']:.4f}: median {1e3 * p['median_s']:.3f} ms per batch "
              f"(p10 {1e3 * p['p10_s']:.3f}, p90 {1e3 * p['p90_s']:.3f})")
    print(f"latency = {1e3 * cal['a']:.4f} + {1e3 * cal['b']:.4f} x miss rate (ms per batch); "
          f"R^2 {cal['r2']:.4f}, RMSE {1e3 * cal['rmse_s']:.4f} ms, max relative error "
          f"{100 * cal['max_rel_error']:.1f}% ({cal['device']}, {cal['backend']}, "
          f"{cal['clock']} clock)")
    for path in write_calibration(cal, args.output):
        print(path)


def cmd_compile(args) -> None:
    from recsim import registry
    from recsim.engine.warm import is_warm, warm
    from recsim.experiments.executors import run_cells

    if args.all == bool(args.pairs):
        raise ConfigError("compile: give POLICY[+PREFETCHER] pairs or --all")
    pairs = ([(p, f) for p in registry.policies() for f in registry.prefetchers()] if args.all
             else [tuple(pair.split("+", 1)) if "+" in pair else (pair, "none")
                   for pair in args.pairs])
    for policy, prefetcher in pairs:
        registry.get_policy(policy), registry.get_prefetcher(prefetcher)
    jobs = [(p, f, k) for p, f in pairs for k in args.kinds]
    cold = [job for job in jobs if not is_warm(*job)]
    print(f"{len(jobs) - len(cold)} of {len(jobs)} loops already compiled; compiling "
          f"{len(cold)} with {args.workers or 'all'} workers")
    for _, (policy, prefetcher, kind, outcome) in run_cells(
            warm, cold, workers=args.workers, progress=False):
        done = f"{outcome:.1f} s" if isinstance(outcome, float) else outcome
        print(f"  {policy} + {prefetcher} ({kind}): {done}")


def cmd_list(kind: str):
    def run(args) -> None:
        from recsim import registry
        from recsim.plugin import describe

        for name, plugin in getattr(registry, kind)().items():
            print(f"{name:<10} {plugin.description}")
            for param, spec in plugin.params.items():
                print(f"{'':<12}{param}: {describe(spec)}")
    return run


def _add_trace(sub) -> None:
    """``recsim trace import|export|info|stats|gen``."""
    trace = sub.add_parser("trace", help="import, export, inspect and generate traces")
    tsub = trace.add_subparsers(dest="trace_command", required=True)
    p = tsub.add_parser("import", help="convert a trace file to recsim's native format",
                        epilog=_FORMATS, formatter_class=_FormatsHelp)
    p.add_argument("src", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--format", help="default: from the file name")
    p.add_argument("--batch-size", type=int, help="samples (or lines) per inference batch")
    p.add_argument("--tables", type=int, nargs="+", help="dlrm_datasets: tables to keep")
    p.add_argument("--order", choices=["table-major", "sample-major"],
                   help="dlrm_datasets, click_log, movielens: access order within a batch")
    p.add_argument("--columns", nargs="+", help="click_log: categorical columns, a table each")
    p.add_argument("--rows-per-table", type=int, help="click_log: hash space per table")
    p.add_argument("--cardinality", type=int, nargs="+", metavar="N",
                   help="rows per table, one for all tables or one each (0: unknown, e.g. "
                        "hashed ids); default: the format's, else max(row) + 1")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_trace_import)
    p = tsub.add_parser("export", help="write a trace in another format")
    p.add_argument("trace", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--format", help="default: from the file name")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_trace_export)
    p = tsub.add_parser("info", help="summary of a trace")
    p.add_argument("trace", type=Path)
    p.add_argument("--format")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_trace_info)
    p = tsub.add_parser("stats", help="reuse distances, reuse counts, skew, LRU miss ratios")
    p.add_argument("trace", type=Path)
    p.add_argument("--format")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="also draw the statistics")
    p.set_defaults(func=cmd_trace_stats)
    p = tsub.add_parser("gen", help="generate a synthetic trace")
    p.add_argument("preset", help="zipf, meta-like, hitrate or an installed plug-in's")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--accesses", type=int, required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--batch-size", type=int, help="accesses per batch")
    p.add_argument("--tables", type=int, help="zipf, meta-like")
    p.add_argument("--rows", type=int, help="zipf: rows per table; hitrate: table rows")
    p.add_argument("--alpha", type=float, help="zipf: skew")
    p.add_argument("--hit-rate", type=float, help="hitrate: requested LRU hit rate")
    p.add_argument("--capacity", type=int, help="hitrate: buffer vectors")
    p.add_argument("--unique", type=int, help="hitrate: unique vectors (10000)")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="any other generator parameter (repeatable), e.g. visits=16")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_trace_gen)


def _add_simulate(sub) -> None:
    """``recsim simulate``: a flag per replay setting, made from their declaration
    (:class:`~recsim.engine.settings.ReplaySettings`)."""
    p = sub.add_parser("simulate", help="replay one trace against one buffer")
    p.add_argument("--trace", type=Path, required=True,
                   help="trace file or native trace directory (format from the name)")
    p.add_argument("--policy", default="lru",
                   help="replacement policy (default lru; see recsim policies); several, "
                        "comma-separated (lru,s3fifo,srrip), print one table")
    p.add_argument("--prefetcher", default="none",
                   help="prefetcher (default none; see recsim prefetchers)")
    for name, (default, how) in declared().items():  # the replay settings, one flag each
        p.add_argument(f"--{name.replace('_', '-')}", default=default, help=how.help,
                       **how.cli)
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="policy parameter (repeatable; see recsim policies)")
    p.add_argument("--pf-param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="prefetcher parameter (repeatable; see recsim prefetchers)")
    p.add_argument("--chunk", type=int, metavar="N",
                   help="stream the trace N accesses at a time (traces larger than memory)")
    p.add_argument("--per-table", action="store_true", help="also print the hit rate per table")
    p.add_argument("--window", type=int, default=0, metavar="N",
                   help="also print the hit rate of every window of N accesses")
    p.add_argument("--json", action="store_true",
                   help="print the whole result as JSON (counts, settings, timings)")
    p.set_defaults(func=cmd_simulate)


def _add_run(sub) -> None:
    """``recsim run`` and ``recsim report``."""
    p = sub.add_parser("run", help="run an experiment YAML")
    p.add_argument("file", type=Path)
    p.add_argument("--output", type=Path, help="default: the YAML's output, or results/NAME")
    p.add_argument("--scale", help="one of the YAML's scales (default: quick, when it has one)")
    p.add_argument("--workers", type=int, help="parallel cells (default: the machine's cores)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local processes (default) or Ray tasks")
    p.add_argument("--address", help="Ray cluster to join (default: start a local one)")
    p.add_argument("--force", action="store_true", help="recompute cells already stored")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="rebuild report.md and report.html of a results folder")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_report)


def _add_train(sub) -> None:
    """``recsim train``."""
    p = sub.add_parser("train", help="train a RecMG or TransFetch model on a trace")
    p.add_argument("kind", choices=MODEL_KINDS)
    p.add_argument("--trace", type=Path, required=True)
    p.add_argument("-o", "--output", type=Path, required=True, help="checkpoint (.pt)")
    p.add_argument("--train-accesses", type=int, help="train on the first N accesses only")
    p.add_argument("--capacity", default="0.15",
                   help="buffer the labels are for: vectors, fraction or percent (0.15)")
    p.add_argument("--ways", type=int, default=32, help="0 = fully associative (default 32)")
    p.add_argument("--label-fraction", type=float, default=0.8,
                   help="Belady labels at this share of the buffer (0.8)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, help="default 256")
    p.add_argument("--lr", type=float, help="default 1e-3 (RecMG), 2e-4 (TransFetch)")
    p.add_argument("--patience", type=int, default=2, help="early stopping (epochs)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="last share of the samples, in time order, for validation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--param", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                   help="model parameter (repeatable), e.g. hidden=64")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.set_defaults(func=cmd_train)


def _add_mrc(sub) -> None:
    """``recsim mrc``."""
    p = sub.add_parser("mrc", help="one-pass LRU miss-ratio curve at every buffer size "
                       "(exact, or SHARDS-sampled)")
    p.add_argument("trace", type=Path)
    p.add_argument("--format")
    p.add_argument("--policy",
                   help="none: LRU's one-pass curve (exact or SHARDS); NAME (or NAME,NAME...): "
                        "any policy's curve at --sizes from sampled replays (docs/sampling.md)")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="policy parameter, with --policy (repeatable)")
    p.add_argument("--ways", type=int, help="with --policy: 0 = fully associative (default)")
    p.add_argument("--sizes", help="with --policy: buffer sizes, comma-separated (counts, "
                        "fractions or percents; default 1%%..10%%, 12%%..30%%: 20 sizes)")
    p.add_argument("--sample", type=float, default=1.0, metavar="R",
                   help="sampling rate in (0, 1] (1: exact; 0.01 for huge traces)")
    p.add_argument("--salts", type=int, default=1, metavar="S",
                   help="with --policy: average S salts and report their spread (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling hash seed (first salt)")
    training = declared()["training_sets"][1]  # the replay setting's own flag
    p.add_argument("--training-sets", default=True, help="with --policy: " + training.help,
                   **training.cli)
    p.add_argument("--force", action="store_true",
                   help="accept a sample too small for the documented error bound")
    p.add_argument("--torchrec", type=Path, metavar="OUT",
                   help="write each table's stack-distance histogram as TorchRec's planner "
                        "reads it (EmbeddingOffloadStats arguments, JSON)")
    p.add_argument("--bins", type=int, default=100,
                   help="histogram bins per table for --torchrec (default 100)")
    p.add_argument("--json", action="store_true", help="the whole curve (100 sizes) as JSON")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="also draw it (PNG and SVG)")
    p.set_defaults(func=cmd_mrc)


def _add_plan(sub) -> None:
    """``recsim plan``."""
    p = sub.add_parser("plan", help="split an HBM budget across per-table caches to minimise "
                       "misses (vs one shared buffer and a uniform load factor)")
    p.add_argument("trace", type=Path)
    p.add_argument("--format")
    p.add_argument("--budget", type=_bytes, required=True, help="bytes: 2e9, 1.5GB, 512MiB")
    p.add_argument("--dim", type=int, help="embedding dimension of the tables whose "
                   "dimension the trace does not record")
    p.add_argument("--dtype", default="fp16", help="fp32, fp16, int8, int4, int2 (fp16), "
                   "for the tables whose dtype the trace does not record")
    p.add_argument("--torchrec", type=Path, metavar="OUT.json",
                   help="write the per-table load factors and EmbeddingOffloadStats for "
                        "TorchRec's planner (recsim.harness.torchrec_plan.load_constraints)")
    p.add_argument("--calibration", type=Path, help="latency calibration JSON")
    p.add_argument("--ways", type=int, default=32,
                   help="ways of the set-associative replay check (default 32)")
    p.add_argument("--no-verify", action="store_true", help="skip the replay check")
    p.add_argument("-o", "--output", type=Path, help="write the whole result as JSON")
    p.add_argument("--json", action="store_true")
    p.add_argument("--policy", default="lru",
                   help="the caches' policy (default lru: exact curves; others: sampled)")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="policy parameter (repeatable)")
    p.add_argument("--sample", type=float, default=1.0, metavar="R",
                   help="build the curves from sampled replays at rate R (docs/sampling.md)")
    p.add_argument("--salt", type=int, default=0, help="the samples' hash salt")
    p.set_defaults(func=cmd_plan)


def _add_calibrate(sub) -> None:
    """``recsim calibrate``."""
    p = sub.add_parser("calibrate", help="time the TorchRec harness at chosen hit rates and "
                       "fit latency = a + b * miss rate")
    p.add_argument("--backend", choices=["tiered", "fbgemm"], default="tiered",
                   help="tiered: PyTorch host tables + buffer (CPU); fbgemm: FBGEMM's GPU "
                        "cache (needs CUDA)")
    p.add_argument("-o", "--output", type=Path, default=Path("calibrations/cpu.json"),
                   help="calibration JSON; its Fig. 18 plot is written beside it")
    for name, (default, text) in SIZES.items():
        p.add_argument(f"--{name}", type=int, default=default, help=text)
    p.add_argument("--hit-rates", type=float, nargs="+", default=list(HIT_RATES))
    p.add_argument("--batches", type=int, default=20, help="timed batches per point (20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed batches per point (5)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads on the CPU (1; 0 leaves torch's default)")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="embedding lookups only, without the DLRM MLPs")
    p.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_calibrate)


def _add_compile(sub) -> None:
    """``recsim compile``, ``recsim policies|prefetchers``."""
    p = sub.add_parser("compile", help="compile replay loops into the kernel cache ahead of "
                       "use (in parallel)")
    p.add_argument("pairs", nargs="*", metavar="POLICY[+PREFETCHER]",
                   help="e.g. mockingjay+bingo, or srrip (no prefetcher)")
    p.add_argument("--all", action="store_true", help="every policy with every prefetcher")
    p.add_argument("--kinds", nargs="+", choices=list(KINDS), default=["plain"],
                   help="loops to compile: plain (set-associative, the default), one_set "
                        "(fully associative), general (advice, statistics, budget, fetch "
                        "latency or a bound on prefetches in flight)")
    p.add_argument("--workers", type=int, help="parallel compiles (default: the cores)")
    p.set_defaults(func=cmd_compile)

    sub.add_parser("policies", help="list replacement policies").set_defaults(
        func=cmd_list("policies"))
    sub.add_parser("prefetchers", help="list prefetchers").set_defaults(
        func=cmd_list("prefetchers"))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="recsim", description=__doc__.splitlines()[0])
    ap.add_argument("--plugin", type=Path, action="append", default=[], metavar="FILE.py",
                    help="load the policies and prefetchers this Python file defines "
                         "(repeatable; before the command)")
    sub = ap.add_subparsers(dest="command", required=True)
    _add_trace(sub)
    _add_simulate(sub)
    _add_run(sub)
    _add_train(sub)
    _add_mrc(sub)
    _add_plan(sub)
    _add_calibrate(sub)
    _add_compile(sub)
    return ap


class _Warnings:
    """RecsimWarnings as one ``recsim: warning:`` line each, a flood gathered: a warning
    that repeats one already shown but for its numbers (``capacity 8 vectors is below ways
    32`` for each of 442 small tables) is counted, not shown, and :meth:`summary` ends
    with one line per such kind giving the count. Other warnings as Python shows them."""

    def __init__(self):
        self.first: dict[str, str] = {}
        self.count: Counter = Counter()

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:
        if not issubclass(category, RecsimWarning):
            print(warnings.formatwarning(message, category, filename, lineno, line),
                  file=file or sys.stderr, end="")
            return
        kind = re.sub(r"\d[\d,.]*", "#", str(message))
        self.count[kind] += 1
        if kind not in self.first:
            self.first[kind] = str(message)
            print(f"recsim: warning: {message}", file=file or sys.stderr)

    def summary(self) -> None:
        for kind, n in self.count.items():
            if n > 1:
                head = self.first[kind].split(":")[0]
                print(f"recsim: warning: {n:,} warnings like '{head}' in all (one shown)",
                      file=sys.stderr)


class _Stderr(logging.StreamHandler):
    """A handler writing to the ``sys.stderr`` of the moment (not the one it was made
    with, which a caller of :func:`main` in the same process may have replaced since)."""

    def emit(self, record) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _log_to_stderr() -> None:
    """The ``recsim`` logger's notes (a cold compile) as ``recsim: ...`` lines."""
    log = logging.getLogger("recsim")
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("recsim: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    gathered = _Warnings()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", RecsimWarning)
            warnings.showwarning = gathered.show
            if args.plugin:
                from recsim.registry import load_plugin_files

                load_plugin_files(args.plugin)
            args.func(args)
            gathered.summary()
    except RecsimError as exc:
        gathered.summary()
        print(f"recsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recsim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
