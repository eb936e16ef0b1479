"""Clerk accounts: scrypt hashes, the store (add, disable, reset, sessions with idle timeout and
lifetime) and the per-account / per-client lockout that expires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cardservice import errors
from cardservice.console import passwords
from cardservice.console.accounts import MAX_CLIENT_FAILURES, MAX_FAILURES, Accounts
from cardservice.store.users import UserStore
from tests.clock import Clock

PASSWORD = "a long enough passphrase"


def test_hash_is_salted_scrypt_and_verifies():
    one, two = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert one.startswith(f"scrypt${passwords.N}$8$1$") and one != two
    assert passwords.verify_password(PASSWORD, one)
    assert not passwords.verify_password(PASSWORD + "!", one)
    assert not passwords.verify_password(PASSWORD, None)
    assert not passwords.verify_password(PASSWORD, "md5$abc")
    assert not passwords.verify_password(PASSWORD + "x" * 300, one)


def test_short_password_is_refused():
    with pytest.raises(errors.ValidationError) as exc:
        passwords.hash_password("short")
    assert exc.value.field == "password"


@pytest.fixture
def accounts() -> Accounts:
    clock = Clock()
    store = UserStore(":memory:")
    store.add("alice", "operator", passwords.hash_password(PASSWORD), clock())
    return Accounts(store, clock, idle=timedelta(minutes=15))


def test_store_refuses_duplicates_and_bad_names(accounts):
    with pytest.raises(errors.UserExistsError):
        accounts.store.add("alice", "admin", "x", accounts.clock())
    with pytest.raises(errors.ValidationError):
        accounts.store.add("bad name!", "admin", "x", accounts.clock())
    with pytest.raises(errors.ValidationError):
        accounts.store.add("bob", "superuser", "x", accounts.clock())
    with pytest.raises(errors.NotFoundError):
        accounts.store.disable("nobody", accounts.clock())


def test_session_idle_timeout_and_logout(accounts):
    secret, clerk = accounts.login("alice", PASSWORD, "127.0.0.1")
    assert clerk.name == "alice" and clerk.actor == "clerk:alice" and len(clerk.csrf) > 30
    assert accounts.clerk(secret).csrf == clerk.csrf
    accounts.clock.advance(minutes=15, seconds=1)
    assert accounts.clerk(secret) is None
    secret, _ = accounts.login("alice", PASSWORD, "127.0.0.1")
    accounts.logout(secret)
    assert accounts.clerk(secret) is None
    accounts.login("alice", PASSWORD, "127.0.0.1")
    accounts.clock.advance(minutes=16)
    accounts.login("alice", PASSWORD, "127.0.0.1")  # a login prunes idle sessions
    with accounts.store.database.connection() as tx:
        assert tx.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert accounts.clerk("made-up") is None and accounts.clerk(None) is None


def test_session_lifetime_even_when_used(accounts):
    secret, _ = accounts.login("alice", PASSWORD, "127.0.0.1")
    minutes = 0
    while accounts.clerk(secret) is not None and minutes < 24 * 60:
        accounts.clock.advance(minutes=10)
        minutes += 10
    assert minutes == 12 * 60 + 10  # used every 10 minutes, it still ends after 12 hours


def test_disable_and_reset_end_sessions(accounts):
    secret, _ = accounts.login("alice", PASSWORD, "127.0.0.1")
    accounts.store.disable("alice", accounts.clock())
    assert accounts.clerk(secret) is None
    with pytest.raises(errors.LoginFailedError):
        accounts.login("alice", PASSWORD, "127.0.0.1")
    accounts.store.set_password("alice", passwords.hash_password("another passphrase"),
                                accounts.clock())
    assert accounts.store.get("alice").active
    secret, _ = accounts.login("alice", "another passphrase", "127.0.0.1")
    assert accounts.clerk(secret) is not None


def test_account_lockout_after_five_failures_expires(accounts):
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(errors.LoginFailedError):
            accounts.login("alice", "wrong password", "10.0.0.1")
    with pytest.raises(errors.LoginLockedError) as locked:
        accounts.login("alice", "wrong password", "10.0.0.2")
    assert locked.value.until == accounts.clock() + timedelta(minutes=15)
    with pytest.raises(errors.LoginLockedError):
        accounts.login("alice", PASSWORD, "10.0.0.3")
    accounts.clock.advance(minutes=15)
    assert accounts.login("alice", PASSWORD, "10.0.0.3")[1].name == "alice"


def test_client_lockout_across_accounts(accounts):
    for i in range(MAX_CLIENT_FAILURES - 1):
        with pytest.raises(errors.LoginFailedError):
            accounts.login(f"guess{i}", "wrong password", "10.9.9.9")
    with pytest.raises(errors.LoginLockedError):
        accounts.login("guess-last", "wrong password", "10.9.9.9")
    with pytest.raises(errors.LoginLockedError):
        accounts.login("alice", PASSWORD, "10.9.9.9")
    assert accounts.login("alice", PASSWORD, "10.0.0.1")[1].name == "alice"


def test_failures_outside_the_window_start_over(accounts):
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(errors.LoginFailedError):
            accounts.login("alice", "wrong password", "10.0.0.1")
    accounts.clock.advance(minutes=16)
    with pytest.raises(errors.LoginFailedError):  # a new window: not locked
        accounts.login("alice", "wrong password", "10.0.0.1")


def test_store_on_both_backends(backend):
    clock = Clock()
    store = UserStore(backend.database("users"))
    store.add("alice", "certifier", "scrypt$x", clock())
    secret, session = store.open_session("alice", clock())
    clock.advance(minutes=5)
    found = store.session(secret, clock(), idle=timedelta(minutes=15), lifetime=timedelta(hours=1))
    assert found.user.name == "alice" and found.csrf == session.csrf
    assert found.user.role.value == "certifier"
    failures = store.record_failure("account:alice", clock(), window=timedelta(minutes=15),
                                    limit=2, lockout=timedelta(minutes=15))
    assert failures.failures == 1 and failures.locked_until is None
    locked = store.record_failure("account:alice", clock(), window=timedelta(minutes=15),
                                  limit=2, lockout=timedelta(minutes=15))
    assert locked.locked_until == clock() + timedelta(minutes=15)
    assert store.failures("account:alice").locked_until == locked.locked_until
    with pytest.raises(errors.UserExistsError):
        store.add("alice", "admin", "x", clock())
    store.disable("alice", clock())
    assert store.session(secret, clock(), idle=timedelta(minutes=15),
                         lifetime=timedelta(hours=1)) is None
    other = UserStore(backend.site("b").database("users")) if backend.name == "postgresql" \
        else None
    if other is not None:  # accounts belong to their site
        assert other.list() == []
