#!/bin/sh
# `make run` after set-up: pcscd (reused if running), demo keys, a simulated card in the virtual
# reader (issued once with a demo identity), a demo operator token, then the daemon in the
# foreground. Ctrl-C stops the daemon and the card simulator this script started; a pcscd it
# started keeps running. A second run reuses the keys, card, registry and token in .demo/.
#
# Environment (all optional):
#   DEMO_DIR         demo state directory            (default: ./.demo)
#   DEMO_PORT        daemon TCP port on 127.0.0.1     (default: 8765)
#   DEMO_VPCD_PORT   vpcd port the card connects to   (default: the first of 35963-35966 that
#                    takes the card)
#   DEMO_READER      that port's reader name          (default: from the port, see reader_for_port)
set -eu
# Everything this script writes (token, logs, card image) is for this user only.
umask 077

cd "$(dirname "$0")/.."
BIN=$(pwd)/.venv/bin
PY=$BIN/python
CS=$BIN/cardservice
SIM=$BIN/cardsim
DEMO=${DEMO_DIR:-$(pwd)/.demo}
PORT=${DEMO_PORT:-8765}

# Reader names pcscd gives the vpcd ports: the package's /etc/reader.conf.d/vpcd (35963/4) and
# the extra readers scripts/install-system-deps.sh adds (35965/6).
reader_for_port() {
    case $1 in
        35963) echo "Virtual PCD 00 00" ;;
        35964) echo "Virtual PCD 00 01" ;;
        35965) echo "Virtual PCD B 00 00" ;;
        35966) echo "Virtual PCD B 00 01" ;;
        *) echo "run-demo: error: set DEMO_READER for vpcd port $1" >&2; exit 1 ;;
    esac
}
READER=${DEMO_READER:-Virtual PCD 00 00}  # set per vpcd port by insert_card
URL=http://127.0.0.1:$PORT
PCSCD_SOCKET=/run/pcscd/pcscd.comm
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"  # only to start pcscd
export CARDSERVICE_HOME="$DEMO/home"

# The demo holder (valid GB 11643 citizen number, born 1949-12-31, female).
HOLDER_NAME="王芳"
HOLDER_CITIZEN="11010519491231002X"
HOLDER_ADDRESS="北京市朝阳区示例路1号"
HOLDER_RESIDENCE="示范县城关镇人民路8号"

SIM_PID=""
DAEMON_PID=""

say() { printf '%s\n' "run-demo: $*" >&2; }
die() { say "error: $*"; exit 1; }

cleanup() {
    trap - EXIT INT TERM
    for pid in $DAEMON_PID $SIM_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $DAEMON_PID $SIM_PID; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- small probes (exit status only) --------------------------------------------------------

unix_answers() {
    "$PY" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.settimeout(1)
sys.exit(s.connect_ex(sys.argv[1]))' "$1" 2>/dev/null
}

tcp_answers() {
    "$PY" -c 'import socket,sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "$1" 2>/dev/null
}

# reader_is NAME WANT: true when the reader NAME is listed (WANT=listed) or holds a card
# (WANT=card), per `cardservice readers --json`. Never touches the vpcd ports themselves.
reader_is() {
    "$CS" readers --json 2>/dev/null | "$PY" -c 'import json,sys
name, want = sys.argv[1:]
hit = [r for r in json.load(sys.stdin) if r["name"] == name]
sys.exit(0 if hit and (want == "listed" or hit[0]["card_present"]) else 1)' "$1" "$2"
}

# json_field KEY: print the top-level KEY of the JSON object on stdin.
json_field() {
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
    deadline=$(($(date +%s) + $1)); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# --- steps ----------------------------------------------------------------------------------

ensure_pcscd() {
    if unix_answers "$PCSCD_SOCKET"; then
        say "pcscd is running; reusing it"
    else
        say "starting pcscd (pcscd -f, log: $DEMO/pcscd.log)"
        $SUDO mkdir -p /run/pcscd
        $SUDO pcscd -f >"$DEMO/pcscd.log" 2>&1 &
        say "pcscd pid $! (left running after the demo)"
        wait_for 10 unix_answers "$PCSCD_SOCKET" || die "pcscd did not start; see $DEMO/pcscd.log"
    fi
    wait_for 5 reader_is "$READER" listed || die "pcscd lists no reader \"$READER\" (is" \
        "vsmartcard-vpcd installed? pcscd reads /etc/reader.conf.d/ only at start: restart it)"
}

ensure_card_image() {
    if [ -f "$DEMO/card.json" ]; then
        say "reusing the demo card $DEMO/card.json"
        return
    fi
    "$SIM" new "$DEMO/card.json" >&2
    # A card issued to the demo holder earlier (from a deleted image) is replaced by this one.
    if [ -f "$DEMO/card.serial" ]; then
        "$CS" card revoke "$(cat "$DEMO/card.serial")" --reason replaced >&2 || true
        rm -f "$DEMO/card.serial"
    fi
}

# The demo card's serial as the API and CLI print it (lower-case hex).
card_serial() {
    "$SIM" show "$DEMO/card.json" | sed -n 's/^serial: //p' | tr 'A-F' 'a-f'
}

# demo_card_in READER: true when READER holds the demo card itself, not some other card (on a
# shared pcscd another program's card can take the virtual reader first).
demo_card_in() {
    [ "$("$CS" card read --reader "$1" --json 2>/dev/null | json_field card_serial 2>/dev/null)" \
        = "$SERIAL" ]
}

# try_insert PORT: start cardsim on vpcd PORT; true when $READER holds the card within 10 s.
try_insert() {
    if ! reader_is "$READER" listed; then
        say "pcscd lists no \"$READER\"; skipping vpcd port $1"
        return 1
    fi
    if reader_is "$READER" card; then
        say "\"$READER\" already holds a card (another cardsim serve?); not using it"
        return 1
    fi
    "$SIM" serve --port "$1" "$DEMO/card.json" >"$DEMO/cardsim.log" 2>&1 &
    SIM_PID=$!
    wait_for 10 demo_card_in "$READER" && return 0
    say "the card did not appear in \"$READER\" (vpcd port $1); see $DEMO/cardsim.log"
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    SIM_PID=""
    return 1
}

# Inserts the card into the first virtual reader that takes it (or only DEMO_VPCD_PORT's).
insert_card() {
    SERIAL=$(card_serial)
    for port in ${DEMO_VPCD_PORT:-35963 35964 35965 35966}; do
        READER=${DEMO_READER:-$(reader_for_port "$port")} || exit 1
        if try_insert "$port"; then
            say "card inserted into \"$READER\" (vpcd port $port, cardsim pid $SIM_PID)"
            return
        fi
    done
    die "no virtual reader took the card; free one or restart pcscd (see README, Troubleshooting)"
}

issue_card_once() {
    card=$("$CS" card read --reader "$READER" --json) || die "could not read the demo card"
    state=$(printf '%s' "$card" | json_field state)
    if [ "$state" != blank ]; then
        say "the demo card is already issued ($state)"
        return
    fi
    say "issuing the blank demo card to $HOLDER_NAME ($HOLDER_CITIZEN)"
    card=$("$CS" card issue --reader "$READER" --json --name "$HOLDER_NAME" --gender female \
        --nationality 01 --citizen-number "$HOLDER_CITIZEN" --household-address "$HOLDER_ADDRESS" \
        --residence "$HOLDER_RESIDENCE" --permit-type temporary) || die "issuing the demo card failed"
    printf '%s' "$card" | json_field card_serial >"$DEMO/card.serial"
}

# Prints the demo operator token, creating one if the stored one is missing or not active.
ensure_token() {
    if [ -s "$DEMO/operator.token" ] && [ -s "$DEMO/operator.name" ] &&
        "$CS" token list --json | "$PY" -c 'import json,sys
sys.exit(0 if any(t["name"] == sys.argv[1] and not t["revoked_at"] for t in json.load(sys.stdin)) else 1)' \
            "$(cat "$DEMO/operator.name")"; then
        cat "$DEMO/operator.token"
        return
    fi
    name="demo-operator-$(date +%Y%m%d%H%M%S)"
    (umask 077 && "$CS" token create --name "$name" --role operator >"$DEMO/operator.token")
    printf '%s\n' "$name" >"$DEMO/operator.name"
    cat "$DEMO/operator.token"
}

# A demo clerk for the web console, its random password kept in $DEMO/clerk.password (0600).
ensure_clerk() {
    if [ -s "$DEMO/clerk.password" ] && "$CS" user list --json | "$PY" -c 'import json,sys
sys.exit(0 if any(u["name"] == "demo-clerk" and not u["disabled_at"] for u in json.load(sys.stdin)) else 1)'; then
        return
    fi
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DEMO/clerk.password")
    if "$CS" user list --json | "$PY" -c 'import json,sys
sys.exit(0 if any(u["name"] == "demo-clerk" for u in json.load(sys.stdin)) else 1)'; then
        "$CS" user reset-password demo-clerk --password-file "$DEMO/clerk.password" >&2
    else
        "$CS" user add demo-clerk --role operator --password-file "$DEMO/clerk.password" >&2
    fi
}

start_daemon() {
    if tcp_answers "$PORT"; then
        die "port $PORT is in use (another cardservice serve?); stop it or set DEMO_PORT"
    fi
    "$CS" serve --host 127.0.0.1 --port "$PORT" &
    DAEMON_PID=$!
    wait_for 20 tcp_answers "$PORT" || die "the daemon did not start listening on $URL"
}

# Prints the API id of $READER, asking the running daemon (GET /v1/readers).
reader_id() {
    "$PY" - "$URL" "$1" "$READER" <<'EOF'
import json, sys, urllib.request
url, token, name = sys.argv[1:]
req = urllib.request.Request(url + "/v1/readers", headers={"Authorization": "Bearer " + token})
readers = json.load(urllib.request.urlopen(req, timeout=10))
print(next(r["id"] for r in readers if r["name"] == name))
EOF
}

# The banner names the token's file, never the token: this output often ends up in a log.
print_banner() {
    rid=$1
    cat <<EOF

==========================================================================================
 cardservice demo daemon: $URL   (API docs: $URL/docs)
 demo operator token:     in $DEMO/operator.token (only you can read it)
 clerks' console:         $URL/console/  (clerk demo-clerk, password in $DEMO/clerk.password)
 demo card:               $DEMO/card.json (serial $SERIAL) in "$READER" (reader id $rid)

 Read the card:
   TOKEN=\$(cat $DEMO/operator.token)
   curl -s -H "Authorization: Bearer \$TOKEN" $URL/v1/readers
   curl -s -H "Authorization: Bearer \$TOKEN" $URL/v1/readers/$rid/card

 Re-sign it after a move (card_serial: the card you read; another card in the reader gets 409):
   curl -s -X POST -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/json" \\
     -d '{"current_residence": "示范县新城街道和平路12号", "permit_type": "temporary", "card_serial": "$SERIAL"}' \\
     $URL/v1/readers/$rid/card/resign

 Ctrl-C stops the daemon and the simulated card.
==========================================================================================

EOF
}

main() {
    mkdir -p "$DEMO"
    chmod -R go-rwx "$DEMO"  # also files an earlier version left readable
    ensure_pcscd
    "$CS" keys init --demo >&2
    "$CS" db upgrade >&2  # a .demo/ of an older version: bring its schema up to date
    ensure_card_image
    insert_card
    issue_card_once
    token=$(ensure_token)
    ensure_clerk
    start_daemon
    rid=$(reader_id "$token") || die "the daemon does not list \"$READER\""
    print_banner "$rid"
    wait "$DAEMON_PID"
}

main "$@"
