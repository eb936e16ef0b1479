#!/bin/sh
# Installs the Debian packages the service and its tests need, if missing, and the extra
# virtual reader slots used by the multi-reader tests and benchmark.
set -eu
# postgresql: the test session starts its own throw-away cluster from its binaries (tests/pg.py)
# softhsm2: the PKCS#11 tests run on a fresh SoftHSM token per test session (tests/hsm.py)
PKGS="pcscd libpcsclite-dev swig vsmartcard-vpcd pcsc-tools opensc postgresql softhsm2"
# the web console's browser tests (Playwright drives Debian's chromium) and its Chinese text
PKGS="$PKGS chromium fonts-noto-cjk"
# the card's printed face: CJK fonts (Noto; Hanazono for CJK Extension B), printing through CUPS
# (cups-pdf is the test queue: Debian 12 names its package printer-driver-cups-pdf, and dpkg -s
# does not know the name cups-pdf, which made every run call apt-get), OCR of rendered faces and
# PDF rasterising in the tests
PKGS="$PKGS fonts-noto-cjk fonts-hanazono cups printer-driver-cups-pdf tesseract-ocr tesseract-ocr-chi-sim poppler-utils"
# the application receipt: tests read it with poppler (poppler-data maps its CJK CID font)
PKGS="$PKGS poppler-data"
# the systemd unit's tests: `systemd-analyze verify` (systemd; the package is not started, PID 1
# stays what it is) and `prlimit` (util-linux) to run the daemon under the unit's LimitNOFILE
PKGS="$PKGS systemd util-linux"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node.js and npm build and test the TypeScript client (clients/typescript); a Node.js from
# elsewhere (e.g. NodeSource, which bundles npm) is kept
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    echo "installing system packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# More virtual readers for multi-reader work: pairs "Virtual PCD B 00 00/01" (ports 35965/35966)
# up to "Virtual PCD H 00 00/01" (35977/35978), 16 readers in all with the package's pair.
# vpcd keeps its sockets in library globals: a second config pointing at the same .so makes both
# readers share one socket, so each extra config loads its own copy of the driver. The config
# files sort after the package's "vpcd" so "Virtual PCD 00 00" stays on port 35963.
$SUDO rm -f /etc/reader.conf.d/cardservice-vpcd-extra  # an older name that sorted first
DRIVERS=/usr/lib/pcsc/drivers/serial
channel=$((0x8C7D))
for letter in B C D E F G H; do
    if [ "$letter" = B ]; then suffix=""; else suffix="-$letter"; fi
    lib="$DRIVERS/libifdvpcd-cardservice$suffix.so"
    if ! cmp -s "$DRIVERS/libifdvpcd.so" "$lib"; then
        $SUDO cp "$DRIVERS/libifdvpcd.so" "$lib"
    fi
    conf_file="/etc/reader.conf.d/vpcd-cardservice-extra$suffix"
    hex=$(printf '0x%X' "$channel")
    conf="FRIENDLYNAME \"Virtual PCD $letter\"
DEVICENAME   /dev/null:$hex
LIBPATH      $lib
CHANNELID    $hex"
    if [ "$(cat "$conf_file" 2>/dev/null)" != "$conf" ]; then
        printf '%s\n' "$conf" | $SUDO tee "$conf_file" >/dev/null
        echo "wrote $conf_file (pcscd reads it at its next start)"
    fi
    channel=$((channel + 2))
done
