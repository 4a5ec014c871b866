#!/usr/bin/env bash
# Checks that /api/openapi.json describes the server: schemathesis generates requests
# from the document (valid and invalid ones), sends them to a real server on SQLite and
# fails on any finding of any check: an undocumented status, a schema-valid request the
# server refuses, an invalid one it accepts, a 5xx, a response that breaks its schema.
#
# Usage: scripts/openapi-check.sh [path to cromulent-server]
# OPENAPI_CHECK_EXAMPLES (default 50) bounds the examples per operation and
# OPENAPI_CHECK_SEED (default 1) fixes them, so a finding reproduces.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server_bin="${1:-$CARGO_TARGET_DIR/debug/cromulent-server}"
[ -x "$server_bin" ] || die "no server binary at $server_bin (cargo build -p cromulent-server first)"
examples="${OPENAPI_CHECK_EXAMPLES:-50}"
seed="${OPENAPI_CHECK_SEED:-1}"

# schemathesis lives in a virtualenv of its own next to the build cache, so the
# system's Python stays as it is and a second run installs nothing.
venv="${CROMULENT_SCHEMATHESIS_VENV:-$HOME/.cache/cromulent/schemathesis-venv}"
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  have python3 || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  python3 -m venv "$venv"
  PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi
note "$("$venv/bin/schemathesis" --version)"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
# The limits are raised because schemathesis is one client sending thousands of
# requests; what the limits refuse is tested by the server's own suite.
export DATA_DIR="$work/data" BIND=127.0.0.1 PORT="$port" PUBLIC_URL="$url" \
  TURN_ENABLED=false DEV_MAILBOX=true VOICE_SFU_BIND=127.0.0.1 VOICE_SFU_PORT=0 \
  HTTP_WRITES_PER_USER_PER_MINUTE=1000000 HTTP_WRITES_PER_IP_PER_MINUTE=1000000 \
  LOGIN_FAILURES_PER_ACCOUNT=1000000 LOGIN_FAILURES_PER_IP=1000000 \
  REGISTRATIONS_PER_IP_PER_HOUR=1000000 PASSWORD_RESETS_PER_IP_PER_HOUR=1000000 \
  MAILS_PER_ADDRESS_PER_HOUR=1000000 EMAIL_CHANGES_PER_USER_PER_HOUR=1000000 \
  SEARCHES_PER_USER_PER_MINUTE=1000000 \
  DATA_EXPORTS_PER_USER_PER_HOUR=1000000 \
  RUST_LOG=warn

password='openapi-check-password'
printf '%s\n' "$password" |
  "$server_bin" user create --email admin@openapi.test --username openapi_admin --admin >/dev/null
"$server_bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
wait_for_port 127.0.0.1 "$port" 30 || { cat "$work/server.log"; die "the server did not start"; }

# A login gives a refresh token; trading it gives the access token the run sends.
refresh=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"admin@openapi.test\",\"password\":\"$password\",\"device_name\":\"openapi-check\"}" \
  "$url/api/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["refresh_token"])')
token=$(curl -sf -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\"}" \
  "$url/api/auth/refresh" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# Ending a login (the browser session's, or one from the sessions list, which holds the
# run's own) would end the run's own login, so those operations go last, alone.
status=0
for run in main logout; do
  if [ "$run" = main ]; then
    select=(--exclude-operation-id close_browser_session --exclude-operation-id revoke_session)
  else
    select=(--include-operation-id close_browser_session --include-operation-id revoke_session)
  fi
  # From the scratch folder, where schemathesis keeps its cache.
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$REPO_ROOT/scripts/openapi-check.toml" \
    run "$url/api/openapi.json" --url "$url" -H "Authorization: Bearer $token" "${select[@]}" \
    --checks all --seed "$seed" --max-examples "$examples" \
    --generation-database none --workers 1 --no-color \
    --report junit --report-dir "$work/report-$run") || status=$?
done
if [ "$status" -ne 0 ]; then
  note "server log (last 40 lines):"
  tail -n 40 "$work/server.log" >&2
  die "schemathesis found requests the OpenAPI document does not describe (seed $seed)"
fi
