"""The ``nextuse`` policy's learning: past-only features, next-use labels and online
LightGBM training (docs/recmg.md, "A learned policy that learns online")."""
