"""TransFetch as a prefetcher: the vectors the model predicts at the last access of each
chunk of 15 accesses, prefetched at the start of the chunk ``lag`` chunks later.

Paper: Zhang et al., "Fine-Grained Address Segmentation for Attention-Based
Variable-Degree Prefetching", CF 2022; the RecMG paper's ML baseline (adapted to embedding
vectors in :mod:`recsim.recmg.transfetch`).

``model`` is a checkpoint of ``recsim train transfetch``; as for the ``recmg`` prefetcher,
:mod:`recsim.recmg.plugins` runs it before the replay over the accesses after its training
span and the engine issues the predictions as prefetch advice, under any policy.
"""

from recsim.plugin import File, Int, Prefetcher


def make_state(ctx, params):
    return ()


PREFETCHER = Prefetcher("transfetch", "TransFetch's delta predictions per chunk of 15 "
                        "accesses (a learned model; needs model=CHECKPOINT)", make_state,
                        advise="recsim.recmg.plugins:transfetch_advice",
                        params={"model": File(None, "transfetch", help="TransFetch checkpoint"),
                                "lag": Int(1, lo=0, help="chunks between a chunk's inference "
                                           "and its prefetches")})
