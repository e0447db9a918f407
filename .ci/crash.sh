#!/usr/bin/env bash
# CI: the crash test in its short form (bench/crash.py --short, about 2.5 minutes): gunicorn
# with 3 workers, the task worker and the notification retrier on a private PostgreSQL
# cluster that the script makes on its own port and removes (never the shared server on
# 5432); web workers killed every 4 s, the task worker killed twice, PostgreSQL restarted
# twice. Prints the counts it compared; exits non-zero on anything lost or doubled, a file
# whose SHA-256 changed, a notification not sent exactly once, or a 5xx more than 30 s
# after a fault. Needs Debian's postgresql package (initdb, pg_ctl) and the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [ ! -x "$PY" ]; then
    make .venv/.dev PYTHON="${PYTHON:-python3}"
fi
exec timeout --kill-after=30 300 "$PY" bench/crash.py --short
