"""FBGEMM's TBE cache with ``CacheAlgorithm.LRU`` (``lru_cache_populate_byte``, FBGEMM
v1.8.0, commit ``99a76f4e``): per batch, unique rows looked up first and stamped with the
batch's timestamp, misses inserted per set into the least recently stamped ways, never
into a way stamped by the current batch (its rows are locked). See
:mod:`recsim.policies._fbgemm` for the model, its counters and its deviations."""

from recsim.plugin import Policy
from recsim.policies._fbgemm import make_state, replayer

POLICY = Policy("fbgemm_lru", "FBGEMM 1.8.0 TBE cache, LRU: batch-exact (unique rows, "
                "batch timestamps, locked rows, FBGEMM's hash and set count)", make_state,
                replay=replayer(lfu_mode=False))
