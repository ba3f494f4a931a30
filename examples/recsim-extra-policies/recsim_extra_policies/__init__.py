"""SLRU and LFUDA for recsim, built only on its public API (``recsim.plugin``, typed
parameters, ``recsim.testing``) and registered through the ``recsim.policies`` entry
points in ``pyproject.toml``."""
