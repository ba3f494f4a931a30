"""The replay engine: a trace's dense ids through a compiled loop specialised to one policy
and one prefetcher, into exact counts."""
