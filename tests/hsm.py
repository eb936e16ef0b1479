"""A fresh SoftHSM 2 token for a test session (its own SOFTHSM2_CONF and token directory).

The token is initialised with ``softhsm2-util`` (the throw-away test PIN is on its command line;
the service itself reads a PIN only from CARDSERVICE_PKCS11_PIN_FILE).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from cardservice.pki.pkcs11 import ENV_MODULE, ENV_PIN_FILE, ENV_TOKEN, TokenConfig

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def softhsm_available() -> bool:
    return Path(SOFTHSM_MODULE).exists() and shutil.which("softhsm2-util") is not None


def configure_softhsm(folder: Path) -> Path:
    """Point SoftHSM (for this process and its children) at a new token directory."""
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, mode=0o700)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return conf


def init_token(folder: Path, label: str) -> TokenConfig:
    """A new token ``label`` with a random user PIN written to a 0600 file in ``folder``."""
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                    "--pin", pin, "--so-pin", so_pin], check=True, capture_output=True,
                   env={**os.environ})
    pin_file = folder / f"{label}.pin"
    fd = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pin + "\n")
    return TokenConfig(SOFTHSM_MODULE, label, pin_file)


def token_env(config: TokenConfig) -> dict[str, str]:
    return {ENV_MODULE: config.module, ENV_TOKEN: config.token, ENV_PIN_FILE: str(config.pin_file),
            "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"]}
