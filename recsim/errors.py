"""User-facing errors.

Every problem with a user's input (a trace file, a YAML key, a policy name, a capacity)
is raised as a :class:`RecsimError` whose message names the source, the field and what
was expected. The CLI prints that one line and exits with status 2; it never shows a
traceback from deep inside Numba.
"""


class RecsimError(Exception):
    """A problem with the user's input, described in one line."""


class TraceFormatError(RecsimError):
    """A trace file is missing, corrupt, truncated or holds values of the wrong kind."""

    def __init__(self, source, field: str, expected: str, got: str | None = None):
        self.source = str(source)
        self.field = field
        self.expected = expected
        msg = f"{self.source}: field '{field}': expected {expected}"
        if got is not None:
            msg += f", got {got}"
        super().__init__(msg)


class ConfigError(RecsimError):
    """A bad simulation or experiment setting (unknown name, bad capacity, bad key)."""
