#!/bin/sh
# Installs the Debian packages the service and its tests need, if missing, and the extra
# virtual reader slots used by the multi-reader tests and benchmark.
set -eu
PKGS="pcscd libpcsclite-dev swig vsmartcard-vpcd pcsc-tools opensc"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing system packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# Two more virtual readers ("Virtual PCD B 00 00/01", ports 35965/35966) for multi-reader work.
# The file sorts after the package's "vpcd" so "Virtual PCD 00 00" stays on port 35963.
$SUDO rm -f /etc/reader.conf.d/cardservice-vpcd-extra  # older name, sorted first and renamed readers
EXTRA=/etc/reader.conf.d/vpcd-cardservice-extra
if [ ! -f "$EXTRA" ]; then
    printf 'FRIENDLYNAME "Virtual PCD B"\nDEVICENAME   /dev/null:0x8C7D\nLIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID    0x8C7D\n' \
        | $SUDO tee "$EXTRA" >/dev/null
    echo "added $EXTRA (pcscd reads it at its next start)"
fi
