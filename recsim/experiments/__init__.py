"""Experiments: a YAML sweep checked once, run cell by cell into a results store, and its
tables, figures and report."""
