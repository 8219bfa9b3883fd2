"""Errors the venue adapter raises. None of them ever carries key material: messages name the
environment variable or the query, never a value read from the environment."""

from __future__ import annotations

from enum import StrEnum


class VenueError(Exception):
    """Base class of the adapter's errors."""


class CredentialError(VenueError):
    """Missing or malformed credentials, raised before any connection (the CLI exits 2).
    `variable` is the environment variable at fault; its value is never included."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class VenueQueryError(VenueError):
    """A venue query failed (after bounded retries). A failed query is never read as "flat",
    "no orders" or "zero balance" (DESIGN §1.3): callers must treat it as unknown."""

    def __init__(self, what: str, cause: BaseException | str) -> None:
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"venue query {what!r} failed: {detail}")
        self.what = what


class GammaShapeError(VenueError):
    """A Gamma market record that cannot be read (names the field)."""

    def __init__(self, slug: str, field: str, problem: str) -> None:
        super().__init__(f"gamma market {slug or '?'}: field {field!r}: {problem}")
        self.slug, self.field, self.problem = slug, field, problem


class TokenVerdict(StrEnum):
    """The answer of the pre-order token check (FM8)."""

    VALID = "valid"
    ROTATED = "token_rotated"  # the slug's outcome now has a different token id
    UNKNOWN_TOKEN = "token_unknown"  # never discovered by this adapter
    NOT_TRADABLE = "market_not_tradable"  # market gone, closed, or without token ids
