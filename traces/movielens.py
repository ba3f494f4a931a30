"""MovieLens ratings with side features (grouplens.org/datasets/movielens).

The input is the data set's folder, or its ratings file with the others beside it, in
one of two forms:

- ``.dat`` (ML-1M, ML-10M): ``::``-separated, no header: ``ratings.dat``
  (``UserID::MovieID::Rating::Timestamp``), ``movies.dat`` (``MovieID::Title::Genres``)
  and, optionally, ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``, ML-1M);
- ``.csv`` (ml-latest-small, ML-20M, ML-25M): with headers ``userId,movieId,rating,
  timestamp`` and ``movieId,title,genres``; no user file.

A folder is read in the ``.dat`` form when it has ``ratings.dat``, else the ``.csv`` form.
Genres are ``|``-separated (multi-hot); ``(no genres listed)`` is a genre like any other.

Each rating is one inference sample; samples are ordered by timestamp (stable: ties keep
file order). A sample touches, in this order, tables

    0 user        row = UserID
    1 movie       row = MovieID
    2 genre       one access per genre of the movie, in the order the movie lists them;
                  row = rank of the genre name among all genre names of the movies file
                  (sorted, code-point order), listed in ``meta['provenance']['genres']``
    3 gender      (these four only with users.dat) row = rank of the user's value among
    4 age         the distinct values of that users.dat column: numeric order for age
    5 occupation  and occupation (integer codes), code-point order for gender and zip
    6 zip

Cardinalities: user and movie ``max(id) + 1`` over all files (ids may be any int64;
unknown where that overflows or an id is negative); the others the number of distinct
values. Options: ``batch_size`` (samples per inference batch, default 512) and
``order`` (``'table-major'`` default or ``'sample-major'``, as in
:mod:`recsim.traces.dlrm_datasets`: within a batch all accesses of table 0 in sample
order, then table 1, ...; or each sample's accesses together). The files are parsed
with ``pyarrow.csv``; a ``.dat`` file is read whole into memory (``::`` becomes a tab).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from recsim.errors import ConfigError, TraceFormatError, gist
from recsim.traces.common import (fixed_batches, no_other_options, positive_int,
                                  require_file, trace_meta)
from recsim.traces.dlrm_datasets import ORDERS
from recsim.traces.trace import Trace, infer_cardinalities

NAME = "movielens"
EXTENSIONS = ("ratings.dat",)  # ratings.csv would be taken for csv_table: give the format
DEFAULT_BATCH_SIZE = 512
USER_FEATURES = ("gender", "age", "occupation", "zip")
TABLES = ("user", "movie", "genre", *USER_FEATURES)
_FILES = {  # file -> (columns, .csv header, types of the columns used)
    "ratings": (("user", "movie", "rating", "timestamp"), "userId,movieId,rating,timestamp",
                {"user": pa.int64(), "movie": pa.int64(), "timestamp": pa.int64()}),
    "movies": (("movie", "title", "genres"), "movieId,title,genres",
               {"movie": pa.int64(), "genres": pa.string()}),
    "users": (("user", *USER_FEATURES), None,
              {"user": pa.int64(), "gender": pa.string(), "age": pa.int64(),
               "occupation": pa.int64(), "zip": pa.string()}),
}


def read(path, batch_size: int = DEFAULT_BATCH_SIZE, order: str = "table-major",
         **options) -> Trace:
    path = Path(path)
    no_other_options(options, path, NAME)
    batch_size = positive_int(batch_size, "batch_size", path)
    if order not in ORDERS:
        raise ConfigError(f"{path}: option 'order': expected one of {', '.join(ORDERS)}, "
                          f"got {order!r}")
    ratings_path = _ratings_path(path)
    folder, suffix = ratings_path.parent, ratings_path.suffix
    ratings = _read(ratings_path, "ratings")
    files = [ratings_path, folder / f"movies{suffix}", folder / "users.dat"]
    movies = _read(files[1], "movies")
    users = _read(files[2], "users") if suffix == ".dat" and files[2].exists() else None
    if users is None:
        files.pop()

    time_order = np.argsort(ratings["timestamp"], kind="stable")
    user, movie = ratings["user"][time_order], ratings["movie"][time_order]
    m = _lookup(movies["movie"], movie, ratings_path, "movie", f"movies{suffix}", time_order)
    genre_lists = pc.split_pattern(pa.array(movies["genres"]), "|")
    genres, genre_rows = np.unique(genre_lists.flatten().to_numpy(zero_copy_only=False),
                                   return_inverse=True)
    genre_starts = np.asarray(genre_lists.offsets)
    features = [user, movie]
    listed_users = users["user"] if users is not None else user
    card = [_cardinality(user, listed_users), _cardinality(movie, movies["movie"]), len(genres)]
    if users is not None:
        u = _lookup(users["user"], user, ratings_path, "user", "users.dat", time_order)
        for name in USER_FEATURES:
            values, rows = np.unique(users[name], return_inverse=True)
            features.append(rows[u])
            card.append(len(values))
    table, row, ends = _samples(features, genre_rows, genre_starts[m], np.diff(genre_starts)[m])
    offsets = np.concatenate(([0], ends))[fixed_batches(user.shape[0], batch_size)]
    if order == "table-major":
        batch = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
        perm = np.argsort(batch * len(card) + table, kind="stable")
        table, row = table[perm], row[perm]
    meta = trace_meta(folder, NAME, (), tables={str(t): TABLES[t] for t in range(len(card))},
                      genres=genres.tolist(), files=[f.name for f in files],
                      batch_size=batch_size, order=order, samples=int(user.shape[0]))
    return Trace.from_arrays(table, row, offsets, card, meta, source=ratings_path)


def _samples(features: list[np.ndarray], genre_rows: np.ndarray, genre_start: np.ndarray,
             n_genres: np.ndarray):
    """(table, row, end of each sample) of the samples in sample-major order. Sample i
    touches ``features[0][i]`` (user), ``features[1][i]`` (movie), the genre rows
    ``genre_rows[genre_start[i]:][:n_genres[i]]``, then ``features[2:][i]`` (tables 3...)."""
    length = len(features) + n_genres
    ends = np.cumsum(length)
    starts = ends - length
    table = np.empty(int(ends[-1]), dtype=np.int32)
    row = np.empty(int(ends[-1]), dtype=np.int64)
    for k, values in enumerate(features):
        at = starts + k + (n_genres if k >= 2 else 0)
        table[at] = k if k < 2 else k + 1
        row[at] = values
    within = np.arange(int(n_genres.sum())) - np.repeat(np.cumsum(n_genres) - n_genres, n_genres)
    at = np.repeat(starts + 2, n_genres) + within
    table[at] = 2
    row[at] = genre_rows[np.repeat(genre_start, n_genres) + within]
    return table, row, ends


def _ratings_path(path: Path) -> Path:
    if path.is_dir():
        for suffix in (".dat", ".csv"):
            if (path / f"ratings{suffix}").is_file():
                return require_file(path / f"ratings{suffix}", "MovieLens ratings")
        raise TraceFormatError(path, "path", "a MovieLens folder with ratings.dat or "
                               "ratings.csv", "neither")
    path = require_file(path, "MovieLens ratings")
    if path.suffix not in (".dat", ".csv"):
        raise TraceFormatError(path, "path", "a MovieLens folder or its ratings.dat or "
                               "ratings.csv", f"suffix '{path.suffix}'")
    return path


def _read(path: Path, kind: str) -> dict:
    """The used columns of one MovieLens file as numpy arrays."""
    names, header, types = _FILES[kind]
    path = require_file(path, f"MovieLens {kind}")
    if path.suffix == ".dat":
        # copied into Arrow's memory: a buffer over Python bytes may be released by an
        # Arrow worker thread, which then needs the GIL and can abort the exiting process
        sink = pa.BufferOutputStream()
        sink.write(path.read_bytes().replace(b"::", b"\t"))
        source = pa.BufferReader(sink.getvalue())
        parse = pcsv.ParseOptions(delimiter="\t", quote_char=False)
        skip = 0
    else:
        with open(path, "rb") as fh:
            first = fh.readline().decode("utf-8", errors="replace").strip()
        if first != header:
            raise TraceFormatError(path, "header", repr(header), repr(first[:200]))
        source, parse, skip = path, pcsv.ParseOptions(), 1
    try:
        table = pcsv.read_csv(source, pcsv.ReadOptions(column_names=names, skip_rows=skip),
                              parse, pcsv.ConvertOptions(include_columns=list(types),
                                                         column_types=types))
    except pa.ArrowInvalid as exc:
        column = re.search(r"column #(\d+)", str(exc))
        field = names[int(column.group(1))] if column else "line"
        want = f"{len(names)} fields per line ({', '.join(names)}), integer ids"
        raise TraceFormatError(path, field, want, gist(exc)) from None
    if table.num_rows == 0:
        raise TraceFormatError(path, "line", "at least one line", "none")
    return {name: table.column(name).to_numpy() for name in types}


def _cardinality(*ids: np.ndarray) -> int:
    """``max(id) + 1`` over the arrays, or unknown (any int64 id may occur: see
    :func:`recsim.traces.trace.infer_cardinalities`)."""
    values = np.concatenate(ids)
    return int(infer_cardinalities(np.zeros(values.shape[0], np.int32), values)[0])


def _lookup(ids: np.ndarray, wanted: np.ndarray, path: Path, field: str, listing: str,
            time_order: np.ndarray) -> np.ndarray:
    """Position in ``ids`` of each of ``wanted`` (the last if listed twice), by a sort:
    memory does not grow with the id values. An id missing from ``ids`` is an error
    naming its line of ``path`` (``time_order`` maps back to file order)."""
    order = np.argsort(ids, kind="stable")
    found = order[np.maximum(np.searchsorted(ids, wanted, side="right", sorter=order) - 1, 0)]
    missing = ids[found] != wanted
    if missing.any():
        i = int(time_order[np.argmax(missing)])
        line = i + (2 if path.suffix == ".csv" else 1)
        raise TraceFormatError(path, field, f"{field} ids listed in {listing}",
                               f"{field} {wanted[np.argmax(missing)]} on line {line}")
    return found
