"""Who a connection is (authenticator) and which threads that user may see (authorizer).

An authenticator maps a bearer token — from the ``Authorization: Bearer ...`` header or a
first ``auth`` frame for browsers — to a user id, or ``None`` when the token is not valid.
An authorizer is any callable ``(user_id, thread_id) -> bool`` (sync or async). Both may be
replaced by the application's own.

An authorizer's answer may change while a subscription lives (a thread nobody owned is claimed,
access is revoked). One that can say so is a :class:`ReportsChanges`: it calls back with the
thread id, and the server re-decides every live subscription of that thread at once, closing
the refused ones (see ``docs/protocol.md``, "Authorization").
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

__all__ = [
    "Authenticator",
    "Authorizer",
    "OwnerAuthorizer",
    "ReportsChanges",
    "TokenAuthenticator",
    "allow_all",
    "authenticate",
    "bearer_token",
    "is_authorized",
]

Authorizer = Callable[[str, str], bool | Awaitable[bool]]


class Authenticator(Protocol):
    """Maps a token to a user id (``None``: not valid); may be sync or async."""

    def authenticate(self, token: str) -> str | Awaitable[str | None] | None: ...


class TokenAuthenticator:
    """A fixed ``token -> user_id`` table."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self.tokens = dict(tokens)

    def authenticate(self, token: str) -> str | None:
        """Return the token's user, or ``None``."""
        return self.tokens.get(token)


@runtime_checkable
class ReportsChanges(Protocol):
    """An authorizer that reports when its answers for a thread may have changed."""

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(thread_id)`` synchronously, as soon as an answer may have changed."""


class OwnerAuthorizer:
    """Allows a user the threads they own, per ``owner_of(thread_id)`` (an orchestrator's).

    A thread nobody owns is refused unless ``allow_unowned`` (refusing is the secure default:
    see ``docs/protocol.md``, "Authorization"). When ``owners`` has
    ``on_owner_change(callback)`` (:class:`~reference_impl.orchestrator.ReferenceOrchestrator`
    does), this authorizer :class:`ReportsChanges`: a thread being claimed re-decides its live
    subscriptions.
    """

    def __init__(self, owners: object, *, allow_unowned: bool = False) -> None:
        owner_of = getattr(owners, "owner_of", None)
        if not callable(owner_of):
            raise TypeError(f"{type(owners).__name__} has no owner_of(thread_id) method")
        self._owner_of: Callable[[str], str | None] = owner_of
        self._owners = owners
        self.allow_unowned = allow_unowned

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(thread_id)`` whenever the owners report a thread's owner changed."""
        watch = getattr(self._owners, "on_owner_change", None)
        if callable(watch):
            watch(lambda thread_id, owner: callback(thread_id))

    def __call__(self, user_id: str, thread_id: str) -> bool:
        owner = self._owner_of(thread_id)
        if owner is None:
            return self.allow_unowned
        return owner == user_id


def allow_all(user_id: str, thread_id: str) -> bool:
    """An authorizer that allows every thread to every user (tests, trusted embedding)."""
    return True


def bearer_token(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header value, else ``None``."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(authenticator: Authenticator, token: str) -> str | None:
    """Run a sync or async authenticator."""
    answer = authenticator.authenticate(token)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer if isinstance(answer, str) and answer else None


async def is_authorized(authorizer: Authorizer, user_id: str, thread_id: str) -> bool:
    """Run a sync or async authorizer; only a literal ``True`` allows."""
    answer = authorizer(user_id, thread_id)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer is True
