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
# vpcd keeps its sockets in library globals: a second config pointing at the same .so makes both
# readers share one socket, so the extra config loads its own copy of the driver. The config file
# sorts after the package's "vpcd" so "Virtual PCD 00 00" stays on port 35963.
$SUDO rm -f /etc/reader.conf.d/cardservice-vpcd-extra  # an older name that sorted first
DRIVERS=/usr/lib/pcsc/drivers/serial
if ! cmp -s "$DRIVERS/libifdvpcd.so" "$DRIVERS/libifdvpcd-cardservice.so"; then
    $SUDO cp "$DRIVERS/libifdvpcd.so" "$DRIVERS/libifdvpcd-cardservice.so"
fi
EXTRA=/etc/reader.conf.d/vpcd-cardservice-extra
CONF='FRIENDLYNAME "Virtual PCD B"
DEVICENAME   /dev/null:0x8C7D
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd-cardservice.so
CHANNELID    0x8C7D'
if [ "$(cat "$EXTRA" 2>/dev/null)" != "$CONF" ]; then
    printf '%s\n' "$CONF" | $SUDO tee "$EXTRA" >/dev/null
    echo "wrote $EXTRA (pcscd reads it at its next start)"
fi
