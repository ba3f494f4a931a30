"""The cost of recording lookups (:mod:`recsim.capture`) on a TorchRec DLRM on the CPU.

    python benchmarks/capture_overhead.py [--tables 8] [--batch 2048] [--pooling 1 8]
        [--rows 100000] [--dim 64] [--batches 20] [--rounds 5] [--threads 1]

TorchRec's ``DLRM`` (``torchrec.models.dlrm``: bottom MLP 13-512-256-DIM, the
EmbeddingBagCollection of ``--tables`` tables, dot interaction, over MLP 512-256-1)
runs ``--batches`` forwards on precomputed inputs (Zipf(1.1) row ids, ``--pooling``
lookups per sample and table), once plain and once under a ``Capture`` (attach, the
forwards, detach: the parts written to disk included), alternating for ``--rounds``
rounds side by side in one process. On a shared machine the difference of the two is
within the noise of the forward itself, so the capture's own work is also timed alone:
its hooks called on each batch's input without the forward (what it adds to a forward,
less PyTorch's hook dispatch), parts written to disk included. Reported per pooling: the
median forward time per batch, plain and captured, and the capture's own time per batch
with its share of the plain forward.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.models.dlrm import DLRM

from recsim.capture import Capture


def model(args) -> DLRM:
    tables = [EmbeddingBagConfig(name=f"t{t}", embedding_dim=args.dim,
                                 num_embeddings=args.rows, feature_names=[f"f{t}"])
              for t in range(args.tables)]
    return DLRM(embedding_bag_collection=EmbeddingBagCollection(tables=tables),
                dense_in_features=13, dense_arch_layer_sizes=[512, 256, args.dim],
                over_arch_layer_sizes=[512, 256, 1]).eval()


def inputs(args, pooling: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(args.batches):
        n = args.tables * args.batch * pooling
        ids = (rng.zipf(1.1, n) - 1) % args.rows
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=[f"f{t}" for t in range(args.tables)], values=torch.from_numpy(ids),
            lengths=torch.full((args.tables * args.batch,), pooling, dtype=torch.int64))
        out.append((torch.rand(args.batch, 13), kjt))
    return out


def timed(net, batches, path=None) -> float:
    """Seconds per batch of the forwards (under a capture into ``path`` if given)."""
    start = time.perf_counter()
    cap = Capture(net, path, force=True).attach() if path else None
    with torch.no_grad():
        for dense, kjt in batches:
            net(dense, kjt)
    if cap is not None:
        cap.detach()
    return (time.perf_counter() - start) / len(batches)


def hooks_only(net, batches, path) -> float:
    """Seconds per batch of the capture's hooks alone (module docstring)."""
    cap = Capture(net, path, force=True).attach()
    (source,) = cap.sources  # the DLRM's EmbeddingBagCollection
    record = cap._recorder(source, 0)  # the hooks attach() registers, called directly
    start = time.perf_counter()
    for dense, kjt in batches:
        cap._open(net, (dense, kjt))
        record(source.module, (kjt,), {})
        cap._close(net, (dense, kjt), None)
    cap.detach()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("tables", 8), ("batch", 2048), ("rows", 100_000), ("dim", 64),
                          ("batches", 20), ("rounds", 5), ("threads", 1)):
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--pooling", type=int, nargs="+", default=[1, 8])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = model(args)
    folder = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    print(f"TorchRec DLRM, {args.tables} tables x {args.rows:,} rows x dim {args.dim}, "
          f"batch {args.batch}, {args.batches} batches x {args.rounds} rounds, "
          f"{args.threads} thread(s)")
    print("| lookups per sample and table | lookups per batch | forward ms | with capture ms "
          "| capture's hooks ms | share of forward |\n|---|---|---|---|---|---|")
    try:
        for pooling in args.pooling:
            batches = inputs(args, pooling)
            timed(net, batches[:3])  # warm-up
            timed(net, batches[:3], folder / "warm.capture")
            plain, captured, hooks = [], [], []
            for r in range(args.rounds):
                plain.append(timed(net, batches))
                captured.append(timed(net, batches, folder / f"p{pooling}.capture"))
                hooks.append(hooks_only(net, batches, folder / f"h{pooling}.capture"))
            a, b, h = np.median(plain), np.median(captured), np.median(hooks)
            print(f"| {pooling} | {args.tables * args.batch * pooling:,} | {1e3 * a:.2f} | "
                  f"{1e3 * b:.2f} | {1e3 * h:.3f} | {100 * h / a:.2f}% |")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
