"""TrustStore caches the time-independent chain checks per certificate: verdicts stay exactly
those of an uncached store, and the validity window is still checked at every call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from vectors_gen import NOW, build_pki

from cardservice.pki.signing import key_id
from cardservice.pki.trust import TrustError, TrustStore, make_authority_certificate

PKI = build_pki()
ED_KID = key_id(PKI.keys["ed"].public_key())


def _reason(store: TrustStore, at=NOW) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(TrustError) as info:
        store.resolve(ED_KID, at)
    return info.value.reason, str(info.value)


def test_window_still_checked_after_a_cached_success() -> None:
    short = make_authority_certificate(PKI.root_key, PKI.root_cert, PKI.keys["ed"].public_key(),
                                       "短期受理点", now=NOW, days=30)
    store = TrustStore([PKI.root_cert], [short])
    assert store.resolve(ED_KID, NOW + timedelta(days=1)).name == "短期受理点"
    assert store.resolve(ED_KID, NOW + timedelta(days=2)).certificate == short
    assert _reason(store, NOW + timedelta(days=31))[0] == "expired"
    assert _reason(store, NOW - timedelta(seconds=1))[0] == "not_yet_valid"
    assert store.resolve(ED_KID, NOW + timedelta(days=3)).name == "短期受理点"


def test_cached_failure_repeats_the_same_verdict_and_message() -> None:
    store = PKI.store(crls=(PKI.crl("ed"),))
    first = _reason(store)
    assert first[0] == "revoked"
    assert _reason(store) == first
    assert _reason(store, NOW + timedelta(days=5)) == first
    fresh = PKI.store(crls=(PKI.crl("ed"),))
    assert _reason(fresh) == first


def test_cached_failure_raises_a_new_exception_each_time() -> None:
    store = PKI.store(crls=(PKI.crl("ed"),))
    errors = []
    for _ in range(2):
        with pytest.raises(TrustError) as info:
            store.resolve(ED_KID, NOW)
        errors.append(info.value)
    assert errors[0] is not errors[1]
    assert errors[0].message == errors[1].message


def test_repeated_resolve_returns_the_same_authority() -> None:
    store = PKI.store()
    results = {store.resolve(ED_KID, NOW + timedelta(days=d)).certificate for d in range(5)}
    assert results == {PKI.certs["ed"]}


def test_each_store_has_its_own_verdicts() -> None:
    """A new CRL comes as a new store: what an older store worked out is not reused."""
    plain = PKI.store()
    assert plain.resolve(ED_KID, NOW).certificate == PKI.certs["ed"]
    assert _reason(PKI.store(crls=(PKI.crl("ed"),)))[0] == "revoked"
    assert plain.resolve(ED_KID, NOW).certificate == PKI.certs["ed"]


def test_revocation_is_judged_at_each_call_s_signing_time() -> None:
    store = PKI.store(crls=(PKI.crl("ed", now=NOW + timedelta(days=10)),))
    before, after = NOW + timedelta(days=9), NOW + timedelta(days=11)
    for _ in range(2):
        assert store.resolve(ED_KID, NOW + timedelta(days=20), before).name == PKI.name("ed")
        with pytest.raises(TrustError) as info:
            store.resolve(ED_KID, NOW + timedelta(days=20), after)
        assert info.value.reason == "authority_revoked"


def test_an_expired_newer_certificate_falls_back_to_the_valid_older_one() -> None:
    older = make_authority_certificate(PKI.root_key, PKI.root_cert, PKI.keys["ed"].public_key(),
                                       "旧证书", now=NOW, days=100)
    newer = make_authority_certificate(PKI.root_key, PKI.root_cert, PKI.keys["ed"].public_key(),
                                       "新证书", now=NOW + timedelta(days=50), days=100)
    store = TrustStore([PKI.root_cert], [older, newer])
    assert store.resolve(ED_KID, NOW + timedelta(days=60)).name == "新证书"
    assert store.resolve(ED_KID, NOW + timedelta(days=10)).name == "旧证书"
    assert store.resolve(ED_KID, NOW + timedelta(days=60)).name == "新证书"
    assert _reason(store, NOW + timedelta(days=200))[0] == "expired"


def test_a_certificate_another_root_key_did_not_sign_stays_refused() -> None:
    other = build_pki(root_label="other-root")  # same root name, another key
    store = TrustStore([other.root_cert], [PKI.certs["ed"]])
    for _ in range(2):
        assert _reason(store)[0] == "bad_chain_signature"
