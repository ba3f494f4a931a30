"""``sessions``: synthetic traces whose order spans tables: user sessions that walk recurring
paths across tables, with drifting interests.

The meta-like preset (:mod:`recsim.traces.meta_like`) puts its recurring order *inside* a
table (a motif is a run of one table's vectors, and batches are table-major). This preset
puts it *across* tables, as a sample-major log of user sessions would (the SASRec-style
user-item logs, e.g. Amazon Video, where a session touches the user, item, category and
context tables in turn): a learned model that reads the order of one table at a time sees
little of it, and one that reads the whole sequence can learn it. A trace is a pure
function of its parameters.

Construction (each knob is a parameter of :func:`generate`):

1. **Vectors.** ``tables`` tables of ``rows`` rows each; inside a table the popularity of
   rows is a bounded Zipf law of exponent ``alpha`` over ranks, mapped to row ids by a
   seeded permutation per table (as :mod:`recsim.traces.zipf`).
2. **Paths.** ``topics`` interests (topics) own ``paths_per_topic`` paths each. A path is a
   fixed sequence of lookups, its length uniform in ``[path_length / 2, 3 path_length /
   2]``; each step draws its table uniformly and its row from step 1's law, so
   consecutive steps are in different tables (with probability ``1 - 1 / tables``) and
   popular vectors are shared by many paths. Inside a topic the paths' popularity is Zipf
   of exponent 1 over the topic's paths.
3. **Topic popularity drifts.** Topics are ranked by a seeded permutation; a topic drawn
   at the share ``tau`` of the trace has Zipf rank ``r`` (exponent ``topic_alpha``) mapped
   to topic ``perm[(r + floor(topic_shift * tau * topics)) mod topics]``: the ranking
   rotates by ``topic_shift`` of all topics over the trace, so the hot topics of the start
   cool down and others take their place.
4. **Users and their interests.** ``users`` users hold ``interests`` topics each, drawn at
   the start by step 3's law. A session belongs to a user drawn uniformly; when it
   starts, with probability ``drift`` one of the user's interests (uniform) is replaced by
   a topic drawn by step 3's law at that time; the session then follows one of the
   user's interests (uniform) for its whole length: ``1 + Geometric`` paths with mean
   ``session_paths``, each drawn by the topic's path popularity.
5. **Interleaving and noise.** ``concurrent`` sessions are open at once; the trace is made
   path by path, each path from an open session drawn uniformly (a finished session is
   replaced by a new one), so the lookups of one path are contiguous and the paths of one
   session interleave with others'. Each lookup is replaced, with probability ``noise``,
   by an independent draw (table uniform, row by step 1's law): the order no model can
   learn. Inference batches hold ``batch_size`` lookups.

What is measurable (``tests/test_trace_gen.py``): consecutive lookups are in different
tables about ``1 - 1 / tables`` of the time; a most-frequent-successor table over the
whole sequence (not per table) predicts the next lookup far better than one per table
(:func:`recsim.traces.stats.successor_accuracy` with one table against the real tables),
and shuffling destroys it; with ``topic_shift`` and ``drift`` the most frequent pairs of
consecutive lookups (the paths in use) of the first fifth of the trace differ from those of
the last fifth far more than without (the hot *vectors* change less: popular rows are
shared by many paths). The defaults give each user about 20 sessions per million lookups,
so a user's interests turn over several times in a trace of that size.

Memory: the paths (``topics x paths_per_topic x path_length`` steps, 12 bytes each), the
row permutations (``tables x rows`` ints) and the output's 12 bytes per access. Time: one
Numba pass over the accesses (Numba's own seeded Mersenne Twister, so the trace is the
same on every machine for one seed and Numba version).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recsim.plugin import Float, Int, check_params
from recsim.traces import native
from recsim.traces.common import fixed_batches

NAME = "sessions"

PARAMS = {
    "accesses": Int(None, lo=1, help="lookups in the trace"),
    "seed": Int(0, lo=0, help="random seed"),
    "tables": Int(24, lo=1, help="embedding tables"),
    "rows": Int(100_000, lo=1, help="rows of each table"),
    "alpha": Float(0.9, lo=0, help="Zipf exponent of row popularity inside a table"),
    "topics": Int(4000, lo=1, help="interests (topics)"),
    "paths_per_topic": Int(8, lo=1, help="recurring paths of one topic"),
    "path_length": Int(10, lo=2, help="mean lookups of a path"),
    "topic_alpha": Float(0.8, lo=0, help="Zipf exponent of topic popularity"),
    "topic_shift": Float(0.5, lo=0, help="share of the topics by which the popularity "
                         "ranking rotates over the trace"),
    "users": Int(1000, lo=1, help="users"),
    "interests": Int(3, lo=1, help="topics a user follows at once"),
    "drift": Float(0.3, lo=0, hi=1, help="chance that a session replaces one interest of "
                   "its user"),
    "session_paths": Float(4.0, lo=1, help="mean paths of a session"),
    "concurrent": Int(8, lo=1, help="sessions open at once"),
    "noise": Float(0.1, lo=0, hi=1, help="chance that a lookup is an independent draw"),
    "batch_size": Int(1024, lo=1, help="lookups per inference batch"),
}


def check(**params) -> dict:
    """The parameters (:data:`PARAMS`) with their defaults, checked and typed."""
    return check_params(f"generator '{NAME}'", PARAMS, params)


def _zipf_cdf(n: int, alpha: float) -> np.ndarray:
    cdf = np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -alpha)
    return cdf / cdf[-1]


@njit(cache=True)
def _draw(cdf):
    return min(np.searchsorted(cdf, np.random.random(), side="right"), cdf.shape[0] - 1)


@njit(cache=True)
def _topic(tau, topic_cdf, topic_perm, shift):
    """Step 3: a topic drawn at the share ``tau`` of the trace."""
    k = topic_perm.shape[0]
    return topic_perm[(_draw(topic_cdf) + np.int64(shift * tau * k)) % k]


@njit(cache=True)
def _fill(out_table, out_row, seed, row_cdf, row_perm, path_ptr, path_table, path_row,
          paths_per_topic, path_cdf, topic_cdf, topic_perm, shift, users, interests, drift,
          session_paths, concurrent, noise):
    """Steps 3-5 of the module docstring, lookup by lookup."""
    np.random.seed(seed)
    n, tables = out_table.shape[0], row_perm.shape[0]
    likes = np.empty((users, interests), np.int64)
    for u in range(users):
        for j in range(interests):
            likes[u, j] = _topic(0.0, topic_cdf, topic_perm, shift)
    topic = np.empty(concurrent, np.int64)
    left = np.zeros(concurrent, np.int64)  # paths left in each open session
    stop = 1.0 / session_paths  # geometric: the session ends after a path with this chance
    k = 0
    while k < n:
        s = np.random.randint(concurrent)
        if left[s] == 0:
            u = np.random.randint(users)
            if np.random.random() < drift:
                likes[u, np.random.randint(interests)] = _topic(k / n, topic_cdf,
                                                                 topic_perm, shift)
            topic[s] = likes[u, np.random.randint(interests)]
            left[s] = 1
            while np.random.random() >= stop:
                left[s] += 1
        p = topic[s] * paths_per_topic + _draw(path_cdf)
        for i in range(path_ptr[p], path_ptr[p + 1]):
            if k == n:
                break
            if np.random.random() < noise:
                t = np.random.randint(tables)
                out_table[k], out_row[k] = t, row_perm[t, _draw(row_cdf)]
            else:
                out_table[k], out_row[k] = path_table[i], path_row[i]
            k += 1
        left[s] -= 1


def generate(accesses: int, path=None, **params):
    """A sessions trace of ``accesses`` lookups (parameters: :func:`check`, meanings: the
    module docstring); written to the native directory ``path`` and opened from there
    when ``path`` is given, else returned in memory."""
    p = check(accesses=accesses, **params)
    rng = np.random.default_rng(p["seed"])
    T, R, L = p["tables"], p["rows"], p["path_length"]
    row_cdf = _zipf_cdf(R, p["alpha"])
    row_perm = np.stack([rng.permutation(R) for _ in range(T)])
    n_paths = p["topics"] * p["paths_per_topic"]
    lengths = rng.integers(L // 2, L + L // 2 + 1, n_paths)
    path_ptr = np.concatenate(([0], np.cumsum(lengths)))
    path_table = rng.integers(0, T, path_ptr[-1])
    rank = np.minimum(np.searchsorted(row_cdf, rng.random(path_ptr[-1]), side="right"), R - 1)
    path_row = row_perm[path_table, rank]
    topic_perm = rng.permutation(p["topics"])
    seed = int(rng.integers(0, 2**31 - 1))  # Numba's generator, seeded from ours

    def fill(out_table, out_row):
        _fill(out_table, out_row, seed, row_cdf, row_perm, path_ptr, path_table, path_row,
              p["paths_per_topic"], _zipf_cdf(p["paths_per_topic"], 1.0),
              _zipf_cdf(p["topics"], p["topic_alpha"]), topic_perm, p["topic_shift"],
              p["users"], p["interests"], p["drift"], p["session_paths"], p["concurrent"],
              p["noise"])

    meta = {"name": NAME, "provenance": {"generator": NAME, **p}}
    return native.generated(fill, p["accesses"], fixed_batches(p["accesses"], p["batch_size"]),
                            np.full(T, R, dtype=np.int64), meta, path)
