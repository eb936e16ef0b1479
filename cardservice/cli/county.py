"""County PKI commands: ``cardservice county ...`` (the county centre), ``cardservice site ...``
(an acceptance point's enrollment) and ``cardservice trust ...`` (installing the county's root
and signed bundles). The life cycle and what an auditor checks: docs/pki.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from cryptography.hazmat.primitives import hashes, serialization

from cardservice import errors
from cardservice.engine.journal import open_writes
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.pki import bundle as bundles
from cardservice.pki import site as sites
from cardservice.pki.county import REASONS, County, site_id_of
from cardservice.pki.issued import IssuedCards
from cardservice.pki.pkcs11 import TokenConfig, require_config

pkcs11_opt = click.option("--pkcs11", is_flag=True,
                          help="Keep the new key in the PKCS#11 token (CARDSERVICE_PKCS11_*).")


def _county(svc: Service) -> County:
    return County(svc.home.root, TokenConfig.from_env())


def _moment(value: str | None) -> datetime:
    """An ISO-8601 date or date-time; without a zone it is UTC; None is now."""
    if value is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise errors.ValidationError("at", f"{value!r} is not an ISO-8601 date or time",
                                     "bad_format") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _write(out: Path, data: bytes) -> None:
    out.write_bytes(data)
    click.echo(f"wrote {out}")


def _fingerprint(cert) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


# --- county ------------------------------------------------------------------------------


@click.group()
def county() -> None:
    """The county centre: root key, certifying acceptance points, revocation, bundles."""


@county.command("init")
@click.option("--root-name", required=True, help="The county root's name (its CN).")
@click.option("--valid-days", type=click.IntRange(1, 10950), default=3650, show_default=True)
@pkcs11_opt
@click.pass_obj
def county_init(svc: Service, root_name: str, valid_days: int, pkcs11: bool) -> None:
    """Make the county root key and its self-signed certificate."""
    cert = _county(svc).init(root_name, now=utc_now(), days=valid_days, pkcs11=pkcs11)
    click.echo(f"county root {root_name!r} serial {cert.serial_number:x}")
    click.echo(f"SHA-256 fingerprint: {_fingerprint(cert)}")


@county.command("rollover-root")
@click.option("--valid-days", type=click.IntRange(1, 10950), default=3650, show_default=True)
@pkcs11_opt
@click.pass_obj
def county_rollover(svc: Service, valid_days: int, pkcs11: bool) -> None:
    """Replace the root key; the old root stays trusted and certifies the new one (a link)."""
    cert, link = _county(svc).rollover_root(now=utc_now(), days=valid_days, pkcs11=pkcs11)
    click.echo(f"new county root serial {cert.serial_number:x}, linked by {link.serial_number:x}")
    click.echo(f"SHA-256 fingerprint: {_fingerprint(cert)}")


@county.command("certify")
@click.argument("csr", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-days", type=click.IntRange(1, 3650), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_obj
def county_certify(svc: Service, csr: Path, valid_days: int, out: Path) -> None:
    """Issue an acceptance point's authority certificate (record signing only)."""
    cert = _county(svc).certify(csr.read_bytes(), now=utc_now(), days=valid_days)
    click.echo(f"certified {sites.describe(cert)} for site {site_id_of(cert)!r}")
    _write(out, cert.public_bytes(serialization.Encoding.PEM))


@county.command("revoke-site")
@click.argument("serial_or_site")
@click.option("--reason", required=True, type=click.Choice(list(REASONS)))
@click.option("--at", "at", default=None,
              help="From when (ISO-8601; no zone = UTC; default now). Records signed at or "
                   "after it read authority_revoked.")
@click.pass_obj
def county_revoke(svc: Service, serial_or_site: str, reason: str, at: str | None) -> None:
    """Revoke a site's authority certificate (by certificate serial or site id)."""
    for r in _county(svc).revoke(serial_or_site, reason=reason, at=_moment(at)):
        click.echo(f"revoked {r.serial:x} (site {r.site_id!r}) from {r.revoked_at.isoformat()}")


@county.command("crl")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True,
              help="Until the next update.")
@click.pass_obj
def county_crl(svc: Service, out: Path, days: int) -> None:
    """Write the CRLs (one per root), signed by the roots."""
    crls = _county(svc).crls(now=utc_now(), days=days)
    _write(out, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls))


@county.command("bundle")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--max-age-days", type=click.IntRange(1, 365), default=7, show_default=True)
@click.pass_obj
def county_bundle(svc: Service, out: Path, max_age_days: int) -> None:
    """Write the signed trust bundle for verify-only installations."""
    now = utc_now()  # before the lists: the bundle claims no later time than it knows
    c = _county(svc)
    registry = svc.registry()
    # the open intents are read before the registry's pages: a write settled while the pages
    # are read has its card in the one or the other
    revoked, issued = registry.revoked_serials(), registry.issued_list(open_writes(svc.audit()))
    data = c.bundle(now=now, max_age=timedelta(days=max_age_days), revoked_cards=revoked,
                    issued=issued)
    click.echo(f"bundle: {len(c.roots())} roots, {len(c.issued())} authorities, "
               f"{len(c.revocations())} revoked authorities, {len(revoked)} revoked cards, "
               f"{_issued(issued)}")
    _write(out, data)


def _issued(issued: IssuedCards | None) -> str:
    if issued is None:
        return "no list of issued cards (not the county registry)"
    return f"{len(issued)} issued cards listed"


# --- site --------------------------------------------------------------------------------


@click.group()
def site() -> None:
    """An acceptance point: its authority key, the CSR, the county's certificate."""


@site.command("request")
@click.option("--site-id", required=True)
@click.option("--name", required=True, help="The authority's name as records carry it.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pkcs11_opt
@click.pass_obj
def site_request(svc: Service, site_id: str, name: str, out: Path, pkcs11: bool) -> None:
    """Make the authority key and a certificate request for the county."""
    svc.home.ensure()
    token = require_config() if pkcs11 else None
    _write(out, sites.request(svc.home, site_id=site_id, name=name, now=utc_now(),
                              token=token))


@site.command("install")
@click.argument("cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def site_install(svc: Service, cert: Path) -> None:
    """Install the certificate the county returned; its key signs from now on."""
    installed = sites.install(svc.home, cert.read_bytes(), now=utc_now())
    click.echo(f"installed {sites.describe(installed)}")


@site.command("masters")
@click.option("--demo", is_flag=True, required=True,
              help="The simulator's dev master keys (demo and tests only).")
@pkcs11_opt
@click.pass_obj
def site_masters(svc: Service, demo: bool, pkcs11: bool) -> None:
    """Install the card master keys (as a 0600 file, or imported into the token)."""
    from simulator.devkeys import load_dev_master_keys

    svc.home.ensure()
    sites.install_masters(svc.home, load_dev_master_keys(), require_config() if pkcs11 else None)
    click.echo("card master keys installed" + (" in the token" if pkcs11 else ""))


# --- trust -------------------------------------------------------------------------------


@click.group()
def trust() -> None:
    """The installation's trust: the county root and the county's signed bundles."""


@trust.command("add-root")
@click.argument("root", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sha256", required=True, help="The fingerprint, as published by the county.")
@click.pass_obj
def trust_add_root(svc: Service, root: Path, sha256: str) -> None:
    """Trust the county root (its fingerprint checked against one read out of band)."""
    svc.home.ensure()
    cert = bundles.add_root(svc.home, root.read_bytes(), sha256)
    click.echo(f"trusting root {cert.subject.rfc4514_string()} ({_fingerprint(cert)})")


@trust.command("import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def trust_import(svc: Service, bundle: Path) -> None:
    """Import a bundle signed by a trusted root (or by its linked successor)."""
    b = bundles.install(svc.home, bundle.read_bytes(), utc_now())
    click.echo(f"imported the bundle issued {b.issued_at.isoformat()}: {len(b.roots)} roots, "
               f"{len(b.authorities)} authorities, {len(b.revoked_cards)} revoked cards, "
               f"{_issued(b.issued)}")


@trust.command("show")
@click.pass_obj
def trust_show(svc: Service) -> None:
    """The installed bundle: when it was issued and whether it is stale."""
    now = utc_now()
    b = bundles.installed(svc.home, now)
    if b is None:
        click.echo("no bundle installed")
        return
    state = "STALE" if b.stale(now) else "current"
    click.echo(f"bundle issued {b.issued_at.isoformat()} ({state}; max age {b.max_age}), "
               f"{len(b.authorities)} authorities, {len(b.revoked_cards)} revoked cards, "
               f"{_issued(b.issued)}")
