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


class RecsimWarning(UserWarning):
    """Something a user likely did not mean, that still gives a valid result (a buffer
    smaller than its ways, a buffer that holds every vector); the CLI prints it as one
    ``recsim: warning:`` line."""


def gist(exc: BaseException, limit: int = 160) -> str:
    """A third-party exception (torch, pyarrow, yaml) in one short line, for the end of a
    message that names the file: its type and first sentence, without the library's
    advice (torch's on ``weights_only``, miniz's on reporting the error)."""
    mark = getattr(exc, "problem_mark", None)  # yaml: the problem and where it is
    text = (f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
            if mark is not None and getattr(exc, "problem", None)
            else next((s.strip() for s in str(exc).splitlines() if s.strip()), ""))
    text = text.split(". ", 1)[0]  # the first sentence: what went wrong, not the advice
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
