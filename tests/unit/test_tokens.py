"""The daemon's client-token store: create, authenticate, list, revoke; hashed at rest."""

from __future__ import annotations

import hashlib
import random
import stat
from datetime import UTC, datetime, timedelta

import pytest

from cardservice.errors import NotFoundError, ValidationError
from cardservice.store.tokens import Role, TokenNameTakenError, TokenStore, hash_token

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def fixed_bytes(seed: int):
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "tokens.db"


@pytest.fixture
def store(path):
    s = TokenStore(path)
    yield s
    s.close()


def test_role_order_and_allows():
    assert Role.READER < Role.OPERATOR < Role.ADMIN
    assert Role.ADMIN > Role.READER and Role.ADMIN >= Role.ADMIN and Role.READER <= Role.OPERATOR
    assert sorted([Role.ADMIN, Role.READER, Role.OPERATOR]) == [
        Role.READER, Role.OPERATOR, Role.ADMIN,
    ]  # fmt: skip
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.ADMIN.allows(Role.READER)
    assert Role.OPERATOR.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.READER)
    assert not Role.OPERATOR.allows(Role.ADMIN)
    assert not Role.READER.allows(Role.OPERATOR)
    assert Role("operator") is Role.OPERATOR


def test_create_returns_secret_once_and_authenticates(store):
    secret, info = store.create("counter-app", Role.OPERATOR, NOW)
    assert secret.startswith("cs_") and len(secret) == 46
    assert info.name == "counter-app" and info.role is Role.OPERATOR
    assert info.created_at == NOW and info.revoked_at is None
    assert info.id.startswith("tok_") and info.id[4:] == hash_token(secret)[:8].hex()
    assert store.authenticate(secret) == info


def test_create_uses_the_injected_randomness(tmp_path):
    a, b = TokenStore(tmp_path / "a.db"), TokenStore(tmp_path / "b.db")
    secret_a, _ = a.create("x", "reader", NOW, token_bytes=fixed_bytes(7))
    secret_b, _ = b.create("x", "reader", NOW, token_bytes=fixed_bytes(7))
    assert secret_a == secret_b
    a.close()
    b.close()


def test_short_random_source_is_refused(store):
    with pytest.raises(ValueError, match="wanted 32"):
        store.create("x", Role.READER, NOW, token_bytes=lambda n: b"\x00" * 8)
    assert store.list() == []


@pytest.mark.parametrize(
    "wrong",
    ["", "cs_", "Bearer x", "cs_" + "A" * 43, "xx_" + "A" * 43, "cs_" + "é" * 43, None, 12],
)
def test_wrong_or_malformed_token_is_none(store, wrong):
    store.create("app", Role.ADMIN, NOW)
    assert store.authenticate(wrong) is None


def test_one_changed_character_fails(store):
    secret, _ = store.create("app", Role.ADMIN, NOW)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert store.authenticate(flipped) is None


def test_revoke_by_name_then_token_no_longer_authenticates(store):
    secret, info = store.create("app", Role.OPERATOR, NOW)
    later = NOW + timedelta(hours=1)
    revoked = store.revoke("app", later)
    assert revoked.id == info.id and revoked.revoked_at == later
    assert store.authenticate(secret) is None


def test_revoke_by_id_and_again_is_a_no_op(store):
    _, info = store.create("app", Role.READER, NOW)
    first = store.revoke(info.id, NOW + timedelta(minutes=1))
    second = store.revoke(info.id, NOW + timedelta(minutes=5))
    assert first == second and first.revoked_at == NOW + timedelta(minutes=1)


def test_revoke_unknown_is_not_found(store):
    with pytest.raises(NotFoundError) as err:
        store.revoke("nobody", NOW)
    assert err.value.code == "NOT_FOUND"
    store.create("app", Role.READER, NOW)
    store.revoke("app", NOW)
    with pytest.raises(NotFoundError):
        store.revoke("app", NOW)


def test_names_unique_among_live_tokens_reusable_after_revoke(store):
    store.create("app", Role.READER, NOW)
    with pytest.raises(TokenNameTakenError) as err:
        store.create("app", Role.ADMIN, NOW)
    assert isinstance(err.value, ValueError) and err.value.code == "TOKEN_NAME_TAKEN"
    store.revoke("app", NOW)
    secret, info = store.create("app", Role.ADMIN, NOW + timedelta(days=1))
    assert store.authenticate(secret).role is Role.ADMIN
    names = [(t.name, t.revoked_at is None) for t in store.list()]
    assert names == [("app", False), ("app", True)]
    assert store.revoke("app", NOW).id == info.id


def test_list_shows_all_tokens_oldest_first(store):
    store.create("b", Role.READER, NOW + timedelta(seconds=2))
    store.create("a", Role.ADMIN, NOW)
    store.revoke("b", NOW + timedelta(seconds=3))
    listed = store.list()
    assert [(t.name, t.role, t.revoked_at) for t in listed] == [
        ("a", Role.ADMIN, None),
        ("b", Role.READER, NOW + timedelta(seconds=3)),
    ]


@pytest.mark.parametrize(("name", "role", "field"), [
    ("", Role.READER, "name"), ("x" * 65, Role.READER, "name"), ("tab\there", "reader", "name"),
    ("ok", "root", "role"), ("ok", "", "role"),
])  # fmt: skip
def test_bad_name_or_role_is_a_validation_error(store, name, role, field):
    with pytest.raises(ValidationError) as err:
        store.create(name, role, NOW)
    assert err.value.field == field
    assert store.list() == []


def test_secret_is_hashed_at_rest(path, store):
    secret, _ = store.create("app", Role.ADMIN, NOW)
    store.close()
    files = [p for p in path.parent.iterdir() if p.name.startswith("tokens.db")]
    blob = b"".join(p.read_bytes() for p in files)
    assert secret.encode() not in blob
    assert secret[3:].encode() not in blob
    assert hashlib.sha256(secret.encode()).digest() in blob
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened = TokenStore(path)
    assert reopened.authenticate(secret).name == "app"
    reopened.close()
