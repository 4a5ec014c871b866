#!/usr/bin/env bash
# Installs what is missing, builds the web client (when present) and the server, then
# runs `cromulent-server serve` on SQLite under ./data. Settings come from the
# environment (see README.md); extra arguments are passed to `serve`.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

banner "Prerequisites: build tools and Rust"
ensure_build_tools
ensure_rust

if [ -f desktop-ui/package.json ]; then
  banner "Building the web client (desktop-ui)"
  ensure_node
  (
    cd desktop-ui
    npm ci --no-audit --no-fund || npm install --no-audit --no-fund
    npm run build
  )
  # The release binary embeds desktop-ui/dist; make sure cargo embeds this build.
  touch server/src/web.rs
fi

banner "Building cromulent-server (release)"
cargo build --release -p cromulent-server

# The first run is for this machine: listen on loopback only, where the dev mailbox
# (mail shown in the browser instead of sent) is safe. BIND=0.0.0.0 serves the network;
# then set SMTP_HOST, since the mailbox stays off there unless DEV_MAILBOX=true.
export BIND="${BIND:-127.0.0.1}"
if [ "$BIND" = 127.0.0.1 ] && [ -z "${SMTP_HOST:-}" ]; then
  note "listening on 127.0.0.1 only, so outgoing mail is shown at http://localhost:${PORT:-4000}/dev/mailbox"
fi
echo "Cromulent will listen on http://localhost:${PORT:-4000}/"
exec "$CARGO_TARGET_DIR/release/cromulent-server" serve "$@"
