"""Why some policies' miniature simulations miss their full replays at small buffers:
measured from full and miniature replays of the same trace (docs/sampling.md, "Why some
policies miss").

    python benchmarks/sampling_why.py TRACE [TRACE ...] [--format F]
        [--policies lfu lruk lfuda lru]
        [--sizes 1% 2% 5% (or counts of vectors)] [--rate 0.01] [--salt 0] [--salts 5]
        [--error-sizes 1% 2% 5% 10% 20% 30%] [--error-rates 0.1 0.01 0.001]
        [--sweep-rates 0.3 0.1 0.03 0.01 0.003] [--tables probation window phases split error
        partition model]

The miniature is the one ``recsim.engine.sample`` replays: the accesses of the vectors
kept by :func:`~recsim.engine.sample.spatial_keep` at ``--rate`` (and ``--salt``), fully
associative, ``round(rate x capacity)`` vectors, the policy's durations scaled by R.
Five tables per trace by default (``--tables``), two more when named:

1. **probation**: a structure of the policy's that a miniature may hold at its floor
   (``PROBATION``), at 8 points of the trace, full and miniature: for LFU and LRU-K the
   resident vectors with one access since their fill (LFU's count-1 bucket, LRU-K's FIFO
   of vectors with fewer than K accesses), for CLOCK-Pro its cold target ``m_c`` (at
   least 1), for MQ the resident vectors of its lowest queue (for LFUDA, not a
   probation: its age ``L``, an int64 that may wrap); the policy's own state
   after a replay of the trace up to that point (its ``make_state`` wrapped to keep
   the state).
2. **window**, from hit logs, on the sampled vectors only (in the full replay: their
   accesses among all): their miss ratio in full, in the miniature, and in the miniature
   with *one-off fills*: accesses to vectors seen once inserted in its trace (not
   counted), *oracle* one at each miss of an unsampled vector in the full replay (so
   the miniature's probation sees every miss of the full buffer), *gap* one between any
   two sampled accesses that are not adjacent in the trace (no full replay needed; LRU
   is the control: there they take slots); then, of the accesses that follow a miss of
   the same vector, the share that come before the buffer's next miss (of any vector),
   and how often they hit before it and after it (full / miniature); and in the full
   replay the share that come before its next 1/R misses (the miniature's next miss)
   and how often those hit.
3. **phases**: the sampled vectors' miss ratio in each eighth of the trace, full and
   miniature: where in the trace a bias arises.
4. **split**: the estimate's error at each of ``--sizes``, the sum of the *draw* (which
   vectors the salt keeps: their share of the accesses and their miss ratio in the full
   replay, against the whole trace's) and the *miniature* (its miss ratio of the same
   vectors against the full replay's, times their share), over ``--salts`` salts: a
   draw part averages out over salts, a miniature part that keeps its sign is a bias.
5. **error**: mean / max absolute error of the estimate (misses over ``rate x`` accesses,
   SHARDS-adj as ``recsim.engine.sample``) against the full replay over
   ``--error-sizes``, plain and with *gap* one-off fills, at each of ``--error-rates``;
   and the error at the first of ``--sizes`` at each of ``--sweep-rates``.
6. **partition**: the miniature's mean bias without the draw: all 1/R samples of one
   hash (its classes) replayed as miniatures and their misses summed, against the full
   replay at C and at 1/R x round(R x C) (*pooling*: what splitting the buffer costs;
   *rounding*: the capacity's rounding), and how the full buffer's resident vectors at
   the end spread over the classes.
7. **model** (LHD only): the sampled vectors' miss ratio in full, in the miniature, in
   the miniature with the full replay's hit densities copied in at each
   reconfiguration, at the first only, and with the mean of ``--salts`` other salts'
   miniatures' densities
   copied in; and the age coarsening each ends with (they match in trace time where
   R is a power of 2 and the miniature's is above its floor of 1).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings

import numpy as np

import recsim
import recsim.engine.replay as replay_module
from recsim.engine.sample import HASH_BITS, key_hash, scaled_durations, spatial_keep, sub_traces
from recsim.errors import RecsimWarning
from recsim.plugin import DURATION_UNITS
from recsim.registry import get_policy, resolve_params
from recsim.traces import load_trace
from recsim.traces.trace import DenseIds, Trace

PROBATION = {"lfu": lambda s: int((s.node_freq[s.item_node[s.item_node >= 0]] == 1).sum()),
             "lruk": lambda s: int(s.in_fifo.sum()),
             "clockpro": lambda s: int(s.cnt[3]),  # the cold target m_c (one set)
             "mq": lambda s: int(((s.queue == 0) & (s.freq > 0)).sum()),  # queue 0's vectors
             "lfuda": lambda s: int(s.age[0])}  # not a probation: its age L (one set)


class Sample:
    """One trace, its miniature's sample at ``rate`` and ``salt``, and replays of both."""

    def __init__(self, trace: Trace, rate: float, salt: int):
        dense = trace.dense()
        self.trace, self.rate, self.unique = trace, rate, dense.n_unique
        self.keep = spatial_keep(np.asarray(dense.keys), rate, salt)
        (self.sub, self.pos), = sub_traces(trace, [self.keep])
        self.sampled = self.keep[np.asarray(dense.vid)]  # per access of the full trace

    def capacities(self, size: float) -> tuple[int, int]:
        """The full and the miniature buffer's vectors at ``size`` (a fraction of the
        unique vectors, or a count from 1 on)."""
        cap = round(size) if size >= 1 else round(size * self.unique)
        return cap, max(1, round(self.rate * cap))

    def full(self, policy: str, cap: int):
        return recsim.simulate(self.trace, policy, cap, 0, log_hits=True)

    def params(self, policy: str) -> dict:
        """The policy's parameters, its durations scaled, as recsim.engine.sample does."""
        pol = get_policy(policy)
        return scaled_durations(pol, resolve_params("policy", pol, None), self.rate,
                                DURATION_UNITS)

    def mini_of(self, sub: Trace, policy: str, cap: int) -> np.ndarray:
        """The hit log of a miniature replay of ``sub``."""
        return recsim.simulate(sub, policy, cap, 0, policy_params=self.params(policy),
                               log_hits=True).hit_log

    def mini(self, policy: str, cap: int, one_off: np.ndarray | None = None) -> np.ndarray:
        """The miniature's hit log of the sampled accesses, with one-off vectors inserted
        at the full trace's positions ``one_off``."""
        if one_off is None:
            return self.mini_of(self.sub, policy, cap)
        params = self.params(policy)
        where = np.concatenate((self.pos, one_off))
        real = np.concatenate((np.ones(self.pos.shape[0], bool), np.zeros(one_off.shape[0], bool)))
        order = np.argsort(where, kind="stable")
        where, real = where[order], real[order]
        tables = self.trace.n_tables  # the one-off vectors: rows of one more table
        table = np.where(real, np.asarray(self.trace.table)[where], tables)
        row = np.where(real, np.asarray(self.trace.row)[where], np.cumsum(~real) - 1)
        card = np.append(np.asarray(self.trace.cardinalities), max(1, one_off.shape[0]))
        mixed = Trace.from_arrays(table, row, None, card)
        return recsim.simulate(mixed, policy, cap, 0, policy_params=params,
                               log_hits=True).hit_log[real]

    def gaps(self) -> np.ndarray:
        """A position between each two sampled accesses that are not adjacent."""
        return self.pos[:-1][np.diff(self.pos) > 1] + 1

    def estimate(self, hit_log: np.ndarray) -> float:
        """SHARDS-adj: the misses over the expected sampled accesses."""
        return float((hit_log == 0).sum() / (self.rate * self.trace.n_accesses))


def prefix(trace: Trace, n: int) -> Trace:
    """The first ``n`` accesses of ``trace``, with its dense ids."""
    dense, off = trace.dense(), np.asarray(trace.batch_offsets)
    return Trace(np.asarray(trace.table[:n]), np.asarray(trace.row[:n]),
                 np.append(off[off < n], n), trace.cardinalities, dict(trace.meta),
                 _dense=DenseIds(np.asarray(dense.vid[:n]), dense.keys, dense.table_rows))


@contextlib.contextmanager
def keeping_states(policy: str):
    """Keep the states the policy makes (its ``make_state`` wrapped) in the list given."""
    pol, states = get_policy(policy), []
    original = pol.make_state

    def keeping(ctx, params):
        states.append(original(ctx, params))
        return states[-1]

    keeping.__module__ = original.__module__  # the compiled loop imports the plug-in's module
    object.__setattr__(pol, "make_state", keeping)
    try:
        yield states
    finally:
        object.__setattr__(pol, "make_state", original)


def probation(trace: Trace, policy: str, cap: int, points) -> list[int]:
    """The resident vectors in probation (``PROBATION``) after replaying each prefix."""
    with keeping_states(policy) as states:
        for n in points:
            recsim.simulate(prefix(trace, n), policy, cap, 0)
    return [PROBATION[policy](s) for s in states]


def lhd_replay(trace: Trace, cap: int, params: dict, models: list | None) -> tuple:
    """LHD's miss ratio, replayed in chunks of ``reconfigure_every`` accesses, its hit
    densities after each reconfiguration and its age coarsening at the end; with
    ``models``, the k-th replaces the density it learns at its k-th (from the last on,
    its own). Between chunks: the
    replay module's ``release``, which it calls after each chunk, wrapped."""
    learned = []
    original, lhd = replay_module.release, sys.modules[get_policy("lhd").make_state.__module__]

    def between_chunks(array):
        original(array)
        state = states[-1]
        k = int(state.g[lhd.N_RECONF])
        if len(learned) < k:
            learned.append(state.density.copy())
            if models is not None and k <= len(models):
                state.density[:] = models[k - 1]

    replay_module.release = between_chunks
    try:
        with keeping_states("lhd") as states:
            missed = recsim.simulate(trace, "lhd", cap, 0, policy_params=params,
                                     chunk=params["reconfigure_every"]).miss_ratio
    finally:
        replay_module.release = original
    return missed, learned, int(states[-1].g[lhd.SHIFT])


def model_table(trace: Trace, s: Sample, args) -> None:
    print(f"\n{trace.name}, R = {args.rate}: LHD's sampled vectors' miss ratio, full / "
          "miniature / miniature with the full replay's hit densities / with its first "
          "only / with the mean of "
          f"{args.salts} other salts' miniatures' densities; age coarsening (full / mini)")
    for size in args.sizes:
        cap, small = s.capacities(size)
        full = 1 - s.full("lhd", cap).hit_log[s.sampled].mean()
        _, models, shift = lhd_replay(trace, cap, resolve_params("policy", get_policy(
            "lhd"), None), None)
        mini, own, mini_shift = lhd_replay(s.sub, small, s.params("lhd"), None)
        copied = lhd_replay(s.sub, small, s.params("lhd"), models)[0]
        first = lhd_replay(s.sub, small, s.params("lhd"), models[:1])[0]
        # the miniature's own densities copied in change nothing: the copy lands in time
        assert lhd_replay(s.sub, small, s.params("lhd"), own)[0] == mini
        others = [lhd_replay(Sample(trace, s.rate, salt).sub, small, s.params("lhd"), None)[1]
                  for salt in range(1, args.salts + 1)]  # their miniatures' densities
        n = min(len(m) for m in others)
        pooled = lhd_replay(s.sub, small, s.params("lhd"),
                            [np.mean([m[k] for m in others], axis=0) for k in range(n)])[0]
        print(f"| lhd | {label(size)} | {full:.4f} | {mini:.4f} | {copied:.4f} | {first:.4f} "
              f"| {pooled:.4f} | {shift} / {mini_shift} |", flush=True)


def window(hit_log: np.ndarray, vid: np.ndarray, sel: np.ndarray, misses: int = 1) -> tuple:
    """Of the accesses that follow a miss of the same vector (that vector in ``sel``):
    the share before the buffer's next ``misses`` misses, and the hit ratio of those and
    of the rest."""
    order = np.argsort(vid, kind="stable")
    same = vid[order[1:]] == vid[order[:-1]]
    after = np.full(vid.shape[0], -1)
    after[order[:-1][same]] = order[1:][same]
    missed = np.cumsum(hit_log == 0)
    i = np.flatnonzero((hit_log == 0) & (after >= 0) & sel[vid])
    hit, first = hit_log[after[i]] == 1, missed[after[i] - 1] - missed[i] < misses
    return tuple(x.mean() if x.size else np.nan for x in (first, hit[first], hit[~first]))


def mechanism(s: Sample, policy: str, size: float) -> None:
    cap, small = s.capacities(size)
    full, mini = s.full(policy, cap).hit_log, s.mini(policy, small)
    vid, sub_vid = np.asarray(s.trace.dense().vid), np.asarray(s.sub.dense().vid)
    f = window(full, vid, s.keep)
    m = window(mini, sub_vid, np.ones(s.sub.dense().n_unique, bool))
    r = window(full, vid, s.keep, round(1 / s.rate))  # the miniature's next miss, in full
    oracle = np.flatnonzero((full == 0) & ~s.sampled)
    miss = [1 - full[s.sampled].mean(), 1 - mini.mean(),
            1 - s.mini(policy, small, oracle).mean(), 1 - s.mini(policy, small, s.gaps()).mean()]
    print(f"| {policy} | {label(size)} | {' | '.join(f'{x:.3f}' for x in miss)} | "
          f"{f[0]:.3f} / {m[0]:.3f} | {f[1]:.3f} / {m[1]:.3f} | {f[2]:.3f} / {m[2]:.3f} | "
          f"{r[0]:.3f} | {r[1]:.3f} |",
          flush=True)


def errors(trace: Trace, policy: str, sizes, rate: float, salt: int, full: dict) -> str:
    """Mean / max error over ``sizes``, plain and with gap one-off fills; ``full`` keeps
    the full replays' miss ratios by (policy, capacity)."""
    s = Sample(trace, rate, salt)
    err = {"plain": [], "gap": []}
    for size in sizes:
        cap, small = s.capacities(size)
        if (policy, cap) not in full:
            full[policy, cap] = recsim.simulate(trace, policy, cap, 0).miss_ratio
        truth = full[policy, cap]
        err["plain"].append(abs(s.estimate(s.mini(policy, small)) - truth))
        err["gap"].append(abs(s.estimate(s.mini(policy, small, s.gaps())) - truth))
    return " | ".join(f"{np.mean(e):.4f} / {np.max(e):.4f}" for e in err.values())


def split(trace: Trace, policy: str, size: float, rate: float, salts: int) -> str:
    """The estimate's error at ``size``, split into the draw (the sampled vectors' miss
    ratio in the full replay, over the expected accesses, against the trace's) and the
    miniature (its miss ratio of those vectors against the full replay's): salt 0's, then
    the mean and range over ``salts`` salts."""
    full = None
    parts = []
    for salt in range(salts):
        s = Sample(trace, rate, salt)
        cap, small = s.capacities(size)
        full = s.full(policy, cap).hit_log if full is None else full
        share = s.sampled.sum() / (rate * trace.n_accesses)  # sampled / expected accesses
        in_full = 1 - full[s.sampled].mean()
        draw = share * in_full - (1 - full.mean())
        parts.append((draw, share * (1 - s.mini(policy, small).mean() - in_full)))
    parts = np.asarray(parts)
    return " | ".join(f"{c[0]:+.4f}; {c.mean():+.4f} ({c.min():+.4f} to {c.max():+.4f})"
                      for c in (parts.sum(axis=1), parts[:, 0], parts[:, 1]))


def probation_table(trace: Trace, s: Sample, args) -> None:
    n = trace.n_accesses
    points = [n * i // 8 for i in range(1, 9)]
    print(f"\n{trace.name}, R = {args.rate}: probation, cold target or age (full / miniature) at "
          f"{', '.join(f'{p / n:.0%}' for p in points)} of the trace")
    for policy in (p for p in args.policies if p in PROBATION):
        for size in args.sizes:
            cap, small = s.capacities(size)
            full, mini = probation(trace, policy, cap, points), probation(
                s.sub, policy, small, np.searchsorted(s.pos, points))
            print(f"| {policy} | {label(size)} | "
                  + " | ".join(f"{a:,} / {b:,}" for a, b in zip(full, mini)) + " |")


def window_table(trace: Trace, s: Sample, args) -> None:
    print(f"\n{trace.name}, R = {args.rate}, sampled vectors (full / miniature)\n"
          "| policy | size | miss: full | mini | oracle | gap | before next miss | "
          "hit if before | hit if after | full: before 1/R misses | hit if so |")
    for policy in args.policies:
        for size in args.sizes:
            mechanism(s, policy, size)


def phases_table(trace: Trace, s: Sample, args) -> None:
    eighth = s.pos * 8 // trace.n_accesses  # of each sampled access
    print(f"\n{trace.name}, R = {args.rate}: the sampled vectors' miss ratio (full / "
          "miniature) in each eighth of the trace")
    for policy in args.policies:
        for size in args.sizes:
            cap, small = s.capacities(size)
            full, mini = s.full(policy, cap).hit_log[s.sampled] == 0, s.mini(policy, small) == 0
            print(f"| {policy} | {label(size)} | " + " | ".join(
                f"{full[eighth == i].mean():.3f} / {mini[eighth == i].mean():.3f}"
                for i in range(8)) + " |", flush=True)


def rows(args, header: str, row) -> None:
    """The header, then ``row(policy, size)`` for each of ``--policies`` and ``--sizes``."""
    print(header)
    for policy in args.policies:
        for size in args.sizes:
            print(f"| {policy} | {label(size)} | {row(policy, size)} |", flush=True)


def split_table(trace: Trace, s: Sample, args) -> None:
    rows(args, f"\n{trace.name}, R = {args.rate}\n| policy | size | error: salt 0; mean over "
         f"{args.salts} salts (range) | draw | miniature |",
         lambda policy, size: split(trace, policy, size, args.rate, args.salts))


def error_table(trace: Trace, s: Sample, args) -> None:
    print(f"\n{trace.name}\n| policy | rate | plain (mean / max) | gap (mean / max) |")
    full = {}
    for policy in args.policies:
        for rate in args.error_rates:
            row = errors(trace, policy, args.error_sizes, rate, args.salt, full)
            print(f"| {policy} | {rate} | {row} |", flush=True)
        for rate in args.sweep_rates:
            row = errors(trace, policy, args.sizes[:1], rate, args.salt, full)
            print(f"| {policy} | {rate} at {args.sizes[0]:.0%} | {row} |", flush=True)


def partition(trace: Trace, policy: str, size: float, rate: float) -> str:
    """The miniature's mean bias with no draw: the trace split by salt 0's hash into
    K = 1/R classes of vectors (each one a sample at R), each replayed as a miniature of
    ``round(R x C)`` vectors, their misses summed, against the full replay at C and at
    K x round(R x C) (the capacity the classes hold together). For an offline optimal
    policy (Belady) the sum is never below the full replay at K x round(R x C): the
    classes' schedules together are one schedule for a buffer of that size."""
    k = round(1 / rate)
    s = Sample(trace, 1 / k, 0)
    cap, small = s.capacities(size)
    top = key_hash(np.asarray(trace.dense().keys), 0) >> np.uint64(64 - HASH_BITS)
    cls = (top * np.uint64(k) >> np.uint64(HASH_BITS)).astype(np.int64)  # class 0: salt 0's
    assert np.array_equal(s.keep, cls == 0)  # class 0 is salt 0's sample
    missed = 0
    for lo in range(0, k, 50):  # sub_traces takes at most 63 masks at once
        subs = sub_traces(trace, [cls == c for c in range(lo, min(k, lo + 50))])
        missed += sum(int((s.mini_of(sub, policy, small) == 0).sum()) for sub, _ in subs)
    runs = [recsim.simulate(trace, policy, c, 0) for c in (cap, k * small)]
    full = [r.miss_ratio for r in runs]
    held = np.bincount(cls[runs[0].resident], minlength=k)  # the full buffer's, per class
    n = trace.n_accesses
    return (f"{cap:,} | {small:,} | {full[0]:.4f} | {full[1]:.4f} | {missed / n:.4f} | "
            f"{missed / n - full[1]:+.4f} | {full[1] - full[0]:+.4f} | {missed / n - full[0]:+.4f}"
            f" | {held.std():.1f} ({held.min()}-{held.max()})")


def partition_table(trace: Trace, s: Sample, args) -> None:
    rows(args, f"\n{trace.name}, R = {args.rate}: all 1/R miniatures (classes of one hash)"
         "\n| policy | size | C | c | full at C | full at Kc | classes | pooling | rounding "
         "| bias | full's resident per class at the end: std (range) |",
         lambda policy, size: partition(trace, policy, size, args.rate))


TABLES = {"probation": probation_table, "window": window_table, "phases": phases_table,
          "split": split_table, "error": error_table,
          "partition": partition_table, "model": model_table}


def percent(text: str) -> float:
    return float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)


def label(size: float) -> str:
    return f"{size:.0%}" if size < 1 else f"{round(size):,} vectors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--format", help="the traces' format (load_trace's; Amazon Video's "
                    "text file: user_item)")
    ap.add_argument("--policies", nargs="+", default=["lfu", "lruk", "lfuda", "lru"])
    ap.add_argument("--sizes", nargs="+", type=percent, default=[0.01, 0.02, 0.05])
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--salt", type=int, default=0)
    ap.add_argument("--salts", type=int, default=5, help="salts of the error's split")
    ap.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES)[:5])
    ap.add_argument("--error-sizes", nargs="+", type=percent,
                    default=[0.01, 0.02, 0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--error-rates", nargs="+", type=float, default=[0.1, 0.01, 0.001])
    ap.add_argument("--sweep-rates", nargs="+", type=float,
                    default=[0.3, 0.1, 0.03, 0.01, 0.003])
    args = ap.parse_args()
    with warnings.catch_warnings():  # a miniature may hold all its vectors
        warnings.simplefilter("ignore", RecsimWarning)
        for path in args.traces:
            trace = load_trace(path, format=args.format)
            sample = Sample(trace, args.rate, args.salt)
            for table in args.tables:
                TABLES[table](trace, sample, args)


if __name__ == "__main__":
    main()
