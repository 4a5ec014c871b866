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

echo "Cromulent will listen on http://localhost:${PORT:-4000}/"
exec "$CARGO_TARGET_DIR/release/cromulent-server" serve "$@"
