"""The one error hierarchy. Adapters translate driver errors into these; use cases raise them;
each entrypoint has one place that turns them into a status code or an exit code.

Every error carries a documented `code` (SPEC §5) and, where one field is to blame, its `key`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.key = key
        #: More to say about it, by name (a failed run's `run_id`): each entrypoint shows it.
        self.details: dict[str, str] = {}


class NotFound(DomainError):
    """A referenced row does not exist (HTTP 404, exit 3)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The request clashes with the stored state (HTTP 409, exit 4): a duplicate, an inactive agent,
    a finished or busy session, a session of another owner."""

    default_code = "duplicate"

    @classmethod
    def duplicate(cls, noun: str, field: str) -> Conflict:
        """`an agent with this name already exists`, keyed by the field."""
        article = "an" if noun[:1] in "aeiou" else "a"
        return cls(f"{article} {noun} with this {field.replace('_', ' ')} already exists", key=field)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field of an input: `key` is its dotted path (`user.email`, `2.name`)."""

    key: str
    message: str


class Invalid(DomainError):
    """The input breaks a rule (HTTP 400, exit 2); `errors` names each bad field."""

    default_code = "invalid"

    def __init__(self, errors: Iterable[FieldError] | str, *, key: str | None = None) -> None:
        if isinstance(errors, str):
            self.errors = [FieldError(key or "", errors)]
        else:
            self.errors = list(errors)
        summary = "; ".join(f"{e.key}: {e.message}" if e.key else e.message for e in self.errors)
        super().__init__(summary or "invalid input", key=key)

    @classmethod
    def from_validation_error(cls, error: ValidationError, prefix: str = "") -> Invalid:
        """Translate pydantic's errors, keeping the path of each bad field."""
        return cls(FieldError(_join(prefix, *e["loc"]), _message(e["msg"], e["type"])) for e in error.errors())


class ModelUnavailable(DomainError):
    """The chat model failed or answered nonsense (HTTP 502, exit 5)."""

    default_code = "model_error"


class ModelTimeout(ModelUnavailable):
    """The chat model did not answer in time (HTTP 504, exit 5)."""

    default_code = "model_timeout"


class StorageUnavailable(DomainError):
    """The database cannot be reached or stayed locked past the configured wait (HTTP 503, exit 1)."""

    default_code = "storage_unavailable"


def _join(prefix: str, *parts: object) -> str:
    return ".".join(str(p) for p in (prefix, *parts) if p != "")


def _message(msg: str, kind: str) -> str:
    if kind == "extra_forbidden":
        return "is not a known field"
    # pydantic prefixes messages raised by our validators with "Value error, ".
    return msg.removeprefix("Value error, ")
