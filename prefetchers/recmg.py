"""RecMG's prefetch model as a prefetcher: the vectors it predicts for each chunk of 15
accesses, prefetched at the start of the chunk ``lag`` chunks later.

Paper: Ren et al., "Machine Learning-Guided Memory Optimization for DLRM Inference on
Tiered Memory" (RecMG), arXiv 2511.08568, Section IV (the prefetch model) and Fig. 7 (the
pipeline: inference for the next batch overlaps the replay of this one, ``lag`` 1).

``model`` is a checkpoint of ``recsim train recmg-prefetch``. Its predictions are no hook
of the replay loop: :mod:`recsim.recmg.plugins` runs the model, batched, over the accesses
after its training span before the replay (cached beside the trace) and the engine issues
the lists as prefetch advice (:class:`recsim.engine.replay.Advice`), so any policy takes
them (LRU + this prefetcher is the paper's LRU+PF; ``recmg`` + this, RecMG). Earlier
accesses replay without prefetches. Predicted vectors the trace never accesses are dropped
(:mod:`recsim.recmg.deploy`).
"""

from recsim.plugin import File, Int, Prefetcher


def make_state(ctx, params):
    return ()


PREFETCHER = Prefetcher("recmg", "RecMG's prefetch model: its predicted vectors per chunk "
                        "of 15 accesses (a learned model; needs model=CHECKPOINT)", make_state,
                        advise="recsim.recmg.plugins:prefetch_advice",
                        params={"model": File(None, "recmg-prefetch",
                                              help="prefetch-model checkpoint"),
                                "lag": Int(1, lo=0, help="chunks between a chunk's inference "
                                           "and its prefetches")})
