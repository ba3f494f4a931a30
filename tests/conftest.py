"""Shared pytest fixtures."""

import gc
import sys
from pathlib import Path

import pytest

# Real third-party data shared between checkouts (see its README.md).
REAL_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The shared real-data folder; skips the test when this checkout has none."""
    if not REAL_DATA_DIR.is_dir():
        pytest.skip(f"real data folder {REAL_DATA_DIR} is absent")
    return REAL_DATA_DIR


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The README's test command runs two workers on a 2-core machine; torch's default of a
    thread per core then oversubscribes the cores (a small training test took 134 s instead
    of 8). Test modules have imported torch, if any uses it, before fixtures run."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def pytest_sessionfinish(session):
    """Drop hypothesis's garbage-collection timer (a ``gc.callbacks`` entry) once the tests
    are done: when xdist ends a worker, execnet interrupts the worker's main thread, and a
    KeyboardInterrupt that lands inside that callback is printed as an unraisable exception
    (``PytestUnraisableExceptionWarning ... KeyboardInterrupt``) after a passing run."""
    gc.callbacks[:] = [cb for cb in gc.callbacks
                       if not getattr(cb, "__module__", "").startswith("hypothesis")]


# -- libCacheSim cross-checks: the same traces as oracleGeneral files, made once a session --

@pytest.fixture(scope="session")
def zipf_1m(tmp_path_factory):
    """A 1M-access Zipf(0.9) trace over 200k rows and its oracleGeneral file."""
    from recsim.traces import oracle_general, zipf

    trace = zipf.generate(1_000_000, tables=1, rows=200_000, alpha=0.9, seed=7)
    path = tmp_path_factory.mktemp("lcs") / "zipf.oracleGeneral"
    oracle_general.write(trace, path)
    return trace, path


@pytest.fixture(scope="session")
def amazon(real_data_dir, tmp_path_factory):
    """The Amazon Video user-item file as a two-table trace and its oracleGeneral file."""
    from recsim.traces import oracle_general, user_item

    trace = user_item.read(real_data_dir / "amazon_video_sasrec.txt")
    path = tmp_path_factory.mktemp("lcs") / "amazon.oracleGeneral"
    oracle_general.write(trace, path)
    return trace, path


def libcachesim_misses(path, cache_class, capacity, n, **params):
    """Misses of libCacheSim's C++ replay of an oracleGeneral file of ``n`` requests."""
    import libcachesim as lcs

    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss_ratio, _ = cache_class(capacity, **params).process_trace(reader)
    return round(miss_ratio * n)
