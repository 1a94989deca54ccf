"""Error hierarchy shared by every command.

Each error carries the exit code of the contract in DESIGN.md and renders as one line
(what is wrong and where), so the CLI never shows a traceback for an expected failure.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_INFRA = 3


class ReproAuditError(Exception):
    """Base class: an expected failure with a one-line message and an exit code."""

    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def one_line(self) -> str:
        """`where: message (hint)`: the single line a user sees."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        from audit.core.escape import printable

        return printable(text.replace("\r\n", " ").replace("\n", " "))


class InputError(ReproAuditError):
    """Bad input or usage: a missing or malformed file, an invalid option (exit 2)."""

    exit_code = EXIT_INPUT


class UnsatisfiableError(InputError):
    """The environment cannot be solved on some platform (exit 2)."""


class InfrastructureError(ReproAuditError):
    """A channel, registry or Docker could not be reached (exit 3)."""

    exit_code = EXIT_INFRA


class FindingsError(ReproAuditError):
    """The command ran and found something wrong (exit 1), e.g. a hash mismatch."""

    exit_code = EXIT_FINDINGS


class AccessDeniedError(InputError):
    """401/403 from a channel, index or registry: the credentials are missing or wrong (exit 2).

    The hint says how to give credentials for that host (see `audit.core.credentials`).
    """
