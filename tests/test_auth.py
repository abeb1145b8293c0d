"""Authentication and authorization: tokens, bearer headers, owners, sync and async."""

from __future__ import annotations

import pytest

from reference_impl import ReferenceOrchestrator
from reference_impl.auth import (
    OwnerAuthorizer,
    ReportsChanges,
    TokenAuthenticator,
    allow_all,
    authenticate,
    bearer_token,
    is_authorized,
)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.asyncio
async def test_token_authenticator_and_async_authenticators() -> None:
    tokens = TokenAuthenticator({"t1": "alice", "t2": ""})
    assert await authenticate(tokens, "t1") == "alice"
    assert await authenticate(tokens, "nope") is None
    assert await authenticate(tokens, "t2") is None  # an empty user id is no user

    class Remote:
        async def authenticate(self, token: str) -> str | None:
            return "bob" if token == "ok" else None

    assert await authenticate(Remote(), "ok") == "bob"
    assert await authenticate(Remote(), "ko") is None


@pytest.mark.asyncio
async def test_owner_authorizer_follows_the_orchestrator() -> None:
    orchestrator = ReferenceOrchestrator()
    orchestrator.create_thread("alice", "a1")
    owners = OwnerAuthorizer(orchestrator)
    assert await is_authorized(owners, "alice", "a1")
    assert not await is_authorized(owners, "bob", "a1")
    assert not await is_authorized(owners, "alice", "unknown")
    assert await is_authorized(OwnerAuthorizer(orchestrator, allow_unowned=True), "bob", "unknown")
    assert not await is_authorized(OwnerAuthorizer(orchestrator, allow_unowned=True), "bob", "a1")
    with pytest.raises(TypeError, match="owner_of"):
        OwnerAuthorizer(object())


@pytest.mark.asyncio
async def test_only_a_literal_true_authorizes() -> None:
    assert await is_authorized(allow_all, "anyone", "anything")

    async def maybe(user_id: str, thread_id: str) -> bool:
        return user_id == "yes"

    assert await is_authorized(maybe, "yes", "t")
    assert not await is_authorized(maybe, "no", "t")
    assert not await is_authorized(lambda u, t: 1, "u", "t")  # type: ignore[arg-type,return-value]


def test_a_claim_is_reported_once_before_create_thread_returns() -> None:
    orchestrator = ReferenceOrchestrator()
    owners = OwnerAuthorizer(orchestrator, allow_unowned=True)
    assert isinstance(owners, ReportsChanges)
    changed: list[str] = []
    owners.on_change(changed.append)
    claims: list[tuple[str, str]] = []
    orchestrator.on_owner_change(lambda thread_id, owner: claims.append((thread_id, owner)))
    assert owners("bob", "t1")
    orchestrator.create_thread("alice", "t1")
    assert (changed, claims) == (["t1"], [("t1", "alice")])
    assert not owners("bob", "t1")
    orchestrator.create_thread("alice", "t1")  # already hers: no change
    with pytest.raises(ValueError, match="another user"):
        orchestrator.create_thread("bob", "t1")
    assert changed == ["t1"]
    assert not isinstance(allow_all, ReportsChanges)

    class Static:
        def owner_of(self, thread_id: str) -> str | None:
            return None

    OwnerAuthorizer(Static()).on_change(changed.append)  # owners that never change: no-op
