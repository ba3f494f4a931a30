"""FBGEMM's TBE cache with ``CacheAlgorithm.LFU`` (``lfu_cache_populate_byte``, FBGEMM
v1.8.0, commit ``99a76f4e``): a lifetime count per row (lookups, added per batch before
any insert), a batch's misses inserted per set in descending count into the ways of
lowest count while the way's count does not exceed the miss's. Rows the batch uses are not
locked: a miss may evict one (its lookups are then conflict misses). See
:mod:`recsim.policies._fbgemm` for the model, its counters and its deviations."""

from recsim.plugin import Policy
from recsim.policies._fbgemm import make_state, replayer

POLICY = Policy("fbgemm_lfu", "FBGEMM 1.8.0 TBE cache, LFU: batch-exact (unique rows, "
                "lifetime counts, FBGEMM's hash and set count)", make_state,
                replay=replayer(lfu_mode=True))
