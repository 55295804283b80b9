"""User-facing errors.

Everything that is the user's input being wrong (a config value, a data file) raises a
:class:`UserError`. The command line prints its message as one line and exits with code 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    """Report bad input as the command line does: one line on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


class UserError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class ConfigValueError(UserError):
    """A config value outside what is allowed.

    ``key`` is the dotted config key (``model.depth``), ``value`` the bad value and
    ``allowed`` a short phrase saying what is allowed.
    """

    def __init__(self, key: str, value: Any, allowed: str, full_key: bool = False) -> None:
        super().__init__(key, value, allowed)
        self.key, self.value, self.allowed, self.full_key = key, value, allowed, full_key

    def with_prefix(self, prefix: str) -> ConfigValueError:
        """The same error with its key placed under ``prefix`` (``depth`` → ``model.depth``); a
        ``full_key`` error (a method refusing ``dataset.val_fraction``) keeps its key."""
        if not prefix or self.full_key:
            return self
        return ConfigValueError(f"{prefix}.{self.key}", self.value, self.allowed)

    def __str__(self) -> str:
        return f"{self.key}={self.value!r} is not allowed: {self.allowed}"


class DataError(UserError):
    """A data set that is missing, truncated or corrupt."""
