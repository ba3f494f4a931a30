"""RecMG: the learned caching and prefetch models of the RecMG paper (labels, models, losses,
training, deployment)."""
