"""Importers of real logs: Criteo/Avazu click logs and MovieLens ratings."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pytest

from recsim.cli import main
from recsim.errors import ConfigError, TraceFormatError
from recsim.traces import click_log, detect_format, load_trace

R = click_log.DEFAULT_ROWS_PER_TABLE


def fnv1a64(data: bytes) -> int:
    """Pure-Python 64-bit FNV-1a, the reference for the Numba hash."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) % 2**64
    return h


def hashed(value: str, rows: int = R) -> int:
    return 1 + fnv1a64(value.encode()) % (rows - 1) if value else 0


def pairs(trace) -> list[tuple[int, int]]:
    return list(zip(trace.table.tolist(), trace.row.tolist()))


def assert_error(path, field, *texts, cls=TraceFormatError, **options):
    with pytest.raises(cls) as info:
        load_trace(path, **options)
    msg = str(info.value)
    assert str(path.name) in msg, msg
    if cls is TraceFormatError:
        assert f"field '{field}'" in msg, msg
    for text in texts:
        assert text in msg, msg


# -- click logs ------------------------------------------------------------------------


def test_fnv1a64_published_vectors():
    # test vectors of the FNV reference code (isthe.com/chongo/tech/comp/fnv)
    got = click_log.fnv1a64(pa.array([b"", b"a", b"foobar"]))
    assert got.tolist() == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C, 0x85944171F73967E8]
    sliced = pa.array([b"zz", b"a", b"foobar"]).slice(1)
    assert click_log.fnv1a64(sliced).tolist() == [0xAF63DC4C8601EC8C, 0x85944171F73967E8]
    assert [hashed(v) for v in ("05db9164", "1fbe01fe", "1005")] == [18482214, 26107396,
                                                                     30047969]


def expected_rows(path, columns) -> np.ndarray:
    """[samples, columns] rows from the csv module and the pure-Python hash."""
    with open(path, newline="") as fh:
        return np.array([[hashed(rec[c]) for c in columns] for rec in csv.DictReader(fh)])


@pytest.mark.parametrize("order", ["table-major", "sample-major"])
def test_criteo_sample(real_data_dir, order):
    path = real_data_dir / "criteo_sample.txt"
    trace = load_trace(path, format="click_log", batch_size=64, order=order)
    names = [f"C{i}" for i in range(1, 27)]
    assert trace.n_tables == 26 and trace.n_accesses == 200 * 26
    assert trace.meta["provenance"]["tables"] == {str(t): c for t, c in enumerate(names)}
    assert trace.cardinalities.tolist() == [R] * 26
    assert trace.batch_offsets.tolist() == [0, 64 * 26, 128 * 26, 192 * 26, 200 * 26]
    rows = expected_rows(path, names)
    assert rows[0, 0] == 18482214 and rows[1, 0] == 15361284  # C1 05db9164, 68fd1e64
    assert (rows == 0).sum() > 500  # Criteo has many empty categorical values: row 0
    for b, (s0, s1) in enumerate([(0, 64), (64, 128), (128, 192), (192, 200)]):
        batch = slice(trace.batch_offsets[b], trace.batch_offsets[b + 1])
        block = rows[s0:s1].T if order == "table-major" else rows[s0:s1]
        tables = np.broadcast_to(np.arange(26)[:, None] if order == "table-major"
                                 else np.arange(26), block.shape)
        np.testing.assert_array_equal(trace.row[batch], block.reshape(-1))
        np.testing.assert_array_equal(trace.table[batch], tables.reshape(-1))


def test_avazu_sample(real_data_dir):
    path = real_data_dir / "avazu_sample.txt"
    trace = load_trace(path, format="click_log", order="sample-major")
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    names = [c for c in header if c not in ("id", "click", "hour")]
    assert len(names) == 21 and names[0] == "C1" and names[-1] == "C21"
    assert list(trace.meta["provenance"]["tables"].values()) == names
    assert trace.n_tables == 21 and trace.n_accesses == 100 * 21
    assert trace.batch_offsets.tolist() == [0, 2100]
    # first line: C1 = 1005 (hashed as the text "1005"), site_id = 1fbe01fe
    assert trace.row[0] == 30047969 and trace.row[names.index("site_id")] == 26107396
    np.testing.assert_array_equal(trace.row, expected_rows(path, names).reshape(-1))


def test_click_log_empty_values_and_options(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text('label,I1,C1,C2\n1,5,a,\n0,,"",x\n1,3,b,"p,q"\n')
    trace = load_trace(path, format="click_log", rows_per_table=10, batch_size=2)
    # rows 1 + fnv1a64 % 9: a -> 8, b -> 2, x -> 6, "p,q" -> 3; empty -> 0
    assert pairs(trace) == [(0, 8), (0, 0), (1, 0), (1, 6), (0, 2), (1, 3)]
    assert trace.batch_offsets.tolist() == [0, 4, 6]
    assert trace.cardinalities.tolist() == [10, 10] and trace.name == "tiny"
    picked = load_trace(path, format="click_log", rows_per_table=10, columns=["C2", "I1"],
                        order="sample-major")
    assert picked.meta["provenance"]["tables"] == {"0": "C2", "1": "I1"}
    assert picked.row.tolist() == [0, hashed("5", 10), 6, 0, 3, hashed("3", 10)]


def test_criteo_raw_tsv_without_header(tmp_path):
    lines = [["1", *map(str, range(13)), *(f"v{i}" for i in range(26))],
             ["0", *[""] * 13, "", *(f"w{i}" for i in range(25))]]
    path = tmp_path / "day_0"
    path.write_text("".join("\t".join(rec) + "\n" for rec in lines))
    trace = load_trace(path, format="click_log", order="sample-major")
    assert trace.n_tables == 26 and trace.meta["provenance"]["tables"]["25"] == "C26"
    assert trace.row.tolist() == [hashed(v) for rec in lines for v in rec[14:]]
    assert trace.row[26] == 0  # the second line's empty C1


def test_click_log_errors(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("label,C1,C2\n1,a,b\n")
    assert_error(good, "C9", "header ['label', 'C1', 'C2']", format="click_log",
                 columns=["C1", "C9"])
    assert_error(tmp_path / "none.csv", "path", "nothing there", format="click_log")
    (tmp_path / "empty.csv").write_text("")
    assert_error(tmp_path / "empty.csv", "file", "empty", format="click_log")
    (tmp_path / "dir.csv").mkdir()
    assert_error(tmp_path / "dir.csv", "path", "a directory", format="click_log")
    short = tmp_path / "short.csv"
    short.write_text("label,C1,C2\n1,a,b\n0,c\n")
    assert_error(short, "line", "3 comma-separated fields", "line 3: '0,c'", format="click_log")
    header_only = tmp_path / "header.csv"
    header_only.write_text("label,C1,C2\n")
    assert_error(header_only, "line", "at least one data line", format="click_log")
    raw = tmp_path / "raw.tsv"
    raw.write_text("1\t2\ta\n")
    assert_error(raw, "header", "40 fields", format="click_log")
    dense = tmp_path / "dense.csv"
    dense.write_text("click,I1\n1,2\n")
    assert_error(dense, "columns", "at least one categorical column", format="click_log")
    for options in ({"rows_per_table": 1}, {"columns": "C1"}, {"columns": []},
                    {"order": "random"}, {"batch_size": 0}, {"tables": [0]}):
        assert_error(good, None, cls=ConfigError, format="click_log", **options)


def test_click_log_cli_import(real_data_dir, tmp_path, capsys):
    src, out = real_data_dir / "criteo_sample.txt", tmp_path / "criteo.trace"
    assert main(["trace", "import", str(src), "--format", "click_log", "-o", str(out),
                 "--batch-size", "50", "--order", "sample-major"]) == 0
    assert "5,200 accesses in 4 batches, 26 tables" in capsys.readouterr().out
    back, direct = load_trace(out), load_trace(src, format="click_log", batch_size=50,
                                               order="sample-major")
    assert pairs(back) == pairs(direct)
    assert back.batch_offsets.tolist() == direct.batch_offsets.tolist()
    assert back.meta["provenance"]["tables"]["0"] == "C1"


# -- MovieLens ---------------------------------------------------------------------------

ML1M = {
    "ratings.dat": "1::20::5::978300760\n2::10::3::978300100\n1::10::4::978300760\n"
                   "3::30::2::978300050\n",
    "movies.dat": "10::Toy Story (1995)::Animation|Children's|Comedy\n"
                  "20::Heat (1995)::Action|Crime|Thriller\n"
                  "30::Les Mis\xe9rables (1995)::Drama\n",  # ML-1M files are latin-1
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::2::55117\n",
}
# by time: line 4 (u3 m30), line 2 (u2 m10), then the tie at 978300760 in file order:
# line 1 (u1 m20), line 3 (u1 m10). Genres sorted: Action 0, Animation 1, Children's 2,
# Comedy 3, Crime 4, Drama 5, Thriller 6. users (gender, age, occupation, zip) ranks:
# F 0 M 1; ages 1, 25, 56 -> 0, 1, 2; occupations 2, 10, 16 -> 0, 1, 2 (numeric order);
# zips 48067, 55117, 70072 -> 0, 1, 2.
ML1M_SAMPLES = [
    [(0, 3), (1, 30), (2, 5), (3, 1), (4, 1), (5, 0), (6, 1)],
    [(0, 2), (1, 10), (2, 1), (2, 2), (2, 3), (3, 1), (4, 2), (5, 2), (6, 2)],
    [(0, 1), (1, 20), (2, 0), (2, 4), (2, 6), (3, 0), (4, 0), (5, 1), (6, 0)],
    [(0, 1), (1, 10), (2, 1), (2, 2), (2, 3), (3, 0), (4, 0), (5, 1), (6, 0)],
]
LATEST = {
    "ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n"
                   "2,1,3.5,964982703\n2,5,5.0,964981000\n",
    "movies.csv": "movieId,title,genres\n"
                  "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
                  '3,"Grumpier Old Men, The (1995)",Comedy|Romance\n'
                  '5,"Extra, ""Quoted"" (2000)",(no genres listed)\n',
}
# by time: line 5 (u2 m5), line 3 (u1 m3), then the tie at 964982703: line 2 (u1 m1),
# line 4 (u2 m1). Genres sorted: (no genres listed) 0, Adventure 1, Animation 2,
# Children 3, Comedy 4, Fantasy 5, Romance 6.
LATEST_SAMPLES = [
    [(0, 2), (1, 5), (2, 0)],
    [(0, 1), (1, 3), (2, 4), (2, 6)],
    [(0, 1), (1, 1), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)],
    [(0, 2), (1, 1), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)],
]


def write_files(folder, files):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    return folder


def table_major(samples, batch_size):
    """The sample-major samples reordered table-major within each batch (by hand)."""
    out = []
    for s0 in range(0, len(samples), batch_size):
        batch = [a for sample in samples[s0:s0 + batch_size] for a in sample]
        out += sorted(batch, key=lambda a: a[0])  # sorted() is stable
    return out


def test_movielens_dat(tmp_path):
    folder = write_files(tmp_path / "ml-1m", ML1M)
    trace = load_trace(folder, format="movielens", batch_size=2, order="sample-major")
    assert pairs(trace) == [a for sample in ML1M_SAMPLES for a in sample]
    assert trace.batch_offsets.tolist() == [0, 16, 34]
    assert trace.cardinalities.tolist() == [4, 31, 7, 2, 3, 3, 3]
    prov = trace.meta["provenance"]
    assert list(prov["tables"].values()) == ["user", "movie", "genre", "gender", "age",
                                              "occupation", "zip"]
    assert prov["genres"] == ["Action", "Animation", "Children's", "Comedy", "Crime", "Drama",
                              "Thriller"]
    assert prov["files"] == ["ratings.dat", "movies.dat", "users.dat"]
    assert trace.name == "ml-1m"
    # default order: table-major; the ratings file itself, its format found from the name
    by_file = load_trace(folder / "ratings.dat", batch_size=2)
    assert pairs(by_file) == table_major(ML1M_SAMPLES, 2)
    assert by_file.batch_offsets.tolist() == [0, 16, 34]


def test_movielens_dat_without_users(tmp_path):
    folder = write_files(tmp_path / "ml-10m", {k: v for k, v in ML1M.items()
                                               if k != "users.dat"})
    trace = load_trace(folder, format="movielens", order="sample-major")
    assert pairs(trace) == [a for sample in ML1M_SAMPLES for a in sample if a[0] < 3]
    assert trace.n_tables == 3 and trace.batch_offsets.tolist() == [0, 18]


def test_movielens_csv(tmp_path):
    folder = write_files(tmp_path / "ml-latest-small", LATEST)
    trace = load_trace(folder, format="movielens", batch_size=3, order="sample-major")
    assert pairs(trace) == [a for sample in LATEST_SAMPLES for a in sample]
    assert trace.batch_offsets.tolist() == [0, 14, 21]
    assert trace.cardinalities.tolist() == [3, 6, 7]
    assert trace.meta["provenance"]["genres"][0] == "(no genres listed)"
    assert detect_format(folder / "ratings.csv") == "csv_table"  # so the format is given
    by_file = load_trace(folder / "ratings.csv", format="movielens")
    assert pairs(by_file) == table_major(LATEST_SAMPLES, 512)
    assert by_file.batch_offsets.tolist() == [0, 21]


def test_movielens_timestamp_ties_are_stable(tmp_path):
    rng = np.random.default_rng(5)
    lines = [(int(u), int(m), int(t)) for u, m, t in zip(rng.integers(1, 30, 300),
                                                         rng.integers(1, 4, 300),
                                                         rng.integers(0, 6, 300))]
    folder = tmp_path / "ties"
    write_files(folder, {
        "ratings.dat": "".join(f"{u}::{m}::3::{t}\n" for u, m, t in lines),
        "movies.dat": "1::A::Drama\n2::B::Comedy\n3::C::Comedy|Drama\n"})
    trace = load_trace(folder, format="movielens", order="sample-major")
    by_time = sorted(lines, key=lambda line: line[2])  # stable
    assert trace.row[trace.table == 0].tolist() == [u for u, _, _ in by_time]
    assert trace.row[trace.table == 1].tolist() == [m for _, m, _ in by_time]


def test_movielens_cli_import(tmp_path, capsys):
    folder = write_files(tmp_path / "ml-1m", ML1M)
    out = tmp_path / "ml.trace"
    assert main(["trace", "import", str(folder), "--format", "movielens", "-o", str(out),
                 "--batch-size", "2"]) == 0
    assert "34 accesses in 2 batches, 7 tables" in capsys.readouterr().out
    assert pairs(load_trace(out)) == table_major(ML1M_SAMPLES, 2)


def test_movielens_errors(tmp_path):
    folder = write_files(tmp_path / "ml", {"ratings.dat": ML1M["ratings.dat"]})
    assert_error(folder / "movies.dat", "path", "nothing there", format="movielens")
    assert_error(tmp_path / "none", "path", "nothing there", format="movielens")
    (tmp_path / "bare").mkdir()
    assert_error(tmp_path / "bare", "path", "ratings.dat or ratings.csv", format="movielens")
    (folder / "movies.dat").write_text("10::T::Drama\n20::T::Drama\n")
    assert_error(folder / "ratings.dat", "movie", "listed in movies.dat", "30 on line 4",
                 format="movielens")
    (folder / "movies.dat").write_text("10::T::Drama\n20::T::Drama\n30::T::Drama\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::1::10::48067\n")
    assert_error(folder / "ratings.dat", "user", "listed in users.dat", "3 on line 4",
                 format="movielens")
    (folder / "users.dat").unlink()
    (folder / "ratings.dat").write_text("1::20::5::978300760\nx::10::3::978300100\n")
    assert_error(folder / "ratings.dat", "user", "integer ids", format="movielens")
    (folder / "ratings.dat").write_text("1::20::5\n")
    assert_error(folder / "ratings.dat", "line", "4 fields per line", format="movielens")
    latest = write_files(tmp_path / "latest", {"ratings.csv": "user,movie,rating,time\n1,1,4,5\n",
                                               "movies.csv": LATEST["movies.csv"]})
    assert_error(latest / "ratings.csv", "header", "userId,movieId,rating,timestamp",
                 format="movielens")
    for options in ({"batch_size": -1}, {"order": "random"}, {"columns": ["user"]}):
        assert_error(folder, None, cls=ConfigError, format="movielens", **options)


def test_cli_passes_click_log_options(tmp_path):
    src = tmp_path / "clicks.csv"
    src.write_text("label,a,b\n1,x,y\n0,,y\n")
    out = tmp_path / "c.trace"
    main(["trace", "import", str(src), "--format", "click_log", "-o", str(out),
          "--columns", "b", "--rows-per-table", "7"])
    trace = load_trace(out)
    assert trace.n_tables == 1 and trace.cardinalities.tolist() == [7]
    assert trace.row.tolist() == [trace.row[0]] * 2 and 1 <= trace.row[0] < 7
