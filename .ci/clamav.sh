#!/usr/bin/env bash
# ClamAV for CI: installs Debian's clamd, builds a signature database for the EICAR test
# file with sigtool (ClamAV cannot download its signatures here, and the official database
# would take a minute and 1 GB to load), starts clamd on a unix socket and waits until it
# answers PING. Prints only the socket's path on stdout, for the tests:
#
#     export CLAMD_TEST_ADDRESS="$(bash .ci/clamav.sh)"
#
# `apt-get update` is the caller's. clamd runs in the background (Foreground no) until the
# machine's CI run ends; `kill "$(cat "$(dirname "$CLAMD_TEST_ADDRESS")/clamd.pid")"` stops it.
set -euo pipefail
exec 3>&1 1>&2  # everything below to stderr; the result to fd 3

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    clamav clamav-daemon >/dev/null

dir=$(mktemp -d /tmp/guichet-clamd.XXXXXX)
mkdir "$dir/db"
# The EICAR file, written in two parts so that this script is not itself detected.
printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' \
    >"$dir/eicar.com"
# Its MD5 (what ClamAV's own test signature matches) and its bytes anywhere in a file (to
# find it inside a PDF), both named as in guichet/dossiers/tests/clamav.py.
IFS=: read -r md5 size _ < <(sigtool --md5 "$dir/eicar.com")
echo "$md5:$size:Eicar-Test-Signature" >"$dir/db/eicar.hdb"
echo "Eicar-Test-Signature-Body:0:*:$(sigtool --hex-dump <"$dir/eicar.com" | tr -d '\n')" \
    >"$dir/db/eicar.ndb"

cat >"$dir/clamd.conf" <<EOF
LocalSocket $dir/clamd.sock
DatabaseDirectory $dir/db
Foreground no
PidFile $dir/clamd.pid
LogFile $dir/clamd.log
StreamMaxLength 25M
EOF
started=$(date +%s%N)
clamd -c "$dir/clamd.conf" 3>&- </dev/null  # the daemon must not hold the result pipe

ping() {
    "${PYTHON:-python3}" - "$dir/clamd.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(16) == b"PONG\0" else 1)
EOF
}
for _ in $(seq 1 300); do
    if ping 2>/dev/null; then
        echo "clamd answers on $dir/clamd.sock after $(( ($(date +%s%N) - started) / 1000000 )) ms"
        echo "$dir/clamd.sock" >&3
        exit 0
    fi
    sleep 0.1
done
echo "clamd did not answer PING in 30 s:"
cat "$dir/clamd.log"
exit 1
