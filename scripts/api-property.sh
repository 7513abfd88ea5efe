#!/usr/bin/env bash
# Property-based test of the HTTP API from its own OpenAPI document:
# schemathesis (from PyPI, in a virtualenv under target/) generates requests
# for every operation of /api/v1/openapi.json, valid and invalid, and checks
# that no response is a server error and that every status, content type and
# body matches the document. It runs twice: without a token (writes refused)
# and with the write token (writes accepted and validated).
#
#   scripts/api-property.sh [SECONDS_PER_RUN]     (default 40)
#
# The store is a fresh one holding a generated country and AS with a 3-hour
# cut, so incident endpoints have something to return.
# With CI=true a missing python3 or PyPI is a failure, otherwise a skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget=${1:-40}
skip() {
    echo "api-property: $1" >&2
    if [[ "${CI:-}" == true ]]; then
        exit 1
    fi
    echo "api-property: skipped" >&2
    exit 0
}
command -v python3 >/dev/null 2>&1 || skip "python3 not found (Debian: apt install python3 python3-venv)"
venv=target/api-property-venv
if [[ ! -x $venv/bin/schemathesis ]]; then
    python3 -m venv "$venv" || skip "python3 -m venv failed (Debian: apt install python3-venv)"
    "$venv/bin/pip" install --quiet 'schemathesis==4.32.5' || skip "pip install schemathesis failed (is PyPI reachable?)"
fi

cargo build --quiet -p vigie
vigie=target/debug/vigie
work=$(mktemp -d)
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Four days of 5-minute bins for a country and an AS, both cut to zero for
# three hours on the third day.
python3 - "$work/signals.csv" <<'EOF'
import datetime, sys
start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
with open(sys.argv[1], "w") as out:
    out.write("time,entity,signal,value\n")
    for i in range(4 * 288):
        when = (start + datetime.timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cut = 2 * 288 + 100 <= i < 2 * 288 + 136
        for entity in ("XX", "AS64500"):
            for signal, level in (("bgp", 5000), ("ping-slash24", 1200)):
                value = 0 if cut else level + (i * 7919) % 23
                out.write(f"{when},{entity},{signal},{value}\n")
EOF
"$vigie" --data-dir "$work/store" import csv "$work/signals.csv" >/dev/null
"$vigie" --data-dir "$work/store" detect

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=api-property-token
VIGIE_API_TOKEN=$token "$vigie" --data-dir "$work/store" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
schema="http://127.0.0.1:$port/api/v1/openapi.json"
for _ in $(seq 100); do
    curl -sf -o /dev/null "$schema" && break
    sleep 0.1
done
curl -sf -o /dev/null "$schema" || { cat "$work/serve.log" >&2; echo "api-property: the server did not start" >&2; exit 1; }

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
echo "api-property: without a token, $budget s"
"$venv/bin/schemathesis" run "$schema" --checks "$checks" --max-time "$budget" --workers 2 \
    --suppress-health-check all --warnings off || status=1
echo "api-property: with the write token, $budget s"
"$venv/bin/schemathesis" run "$schema" -H "Authorization: Bearer $token" --checks "$checks" \
    --max-time "$budget" --workers 2 --suppress-health-check all --warnings off || status=1
if ! kill -0 "$server" 2>/dev/null; then
    echo "api-property: the server died" >&2
    tail -20 "$work/serve.log" >&2
    status=1
fi
exit "$status"
