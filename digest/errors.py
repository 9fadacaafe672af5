"""The one root error class and its few children.

Every error a user can cause or fix is a DigestError with a message they can act on;
the CLI turns it into a one-line message and its exit code, never a traceback.
"""


class DigestError(Exception):
    """A problem the user can fix: bad input, bad configuration, a refused action."""

    exit_code = 1


class ConfigError(DigestError):
    """The configuration file or environment is wrong."""


class InputError(DigestError):
    """A file, row or value given to digest cannot be used."""


class NotFound(DigestError):
    """A named article, edition or subscriber does not exist."""


class AlreadyRunning(DigestError):
    """Another send or run holds the database's send lock."""

    exit_code = 73  # EX_CANTCREAT: the lock could not be taken


class TemplateProblem(DigestError):
    """A template failed to compile or render; the message names file and line."""
