#!/usr/bin/env bash
# Installs what is missing, starts PostgreSQL and NATS, then runs every check CI runs:
# formatting, clippy, the Rust test suite on SQLite and PostgreSQL, the OpenAPI check,
# the desktop-ui checks and the desktop app's. Extra arguments are passed to `cargo test`.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

banner "Prerequisites: build tools, Rust, PostgreSQL, NATS, Python's aiosmtpd and moto"
ensure_build_tools
have psql || apt_install postgresql-client
# coturn brings turnutils_uclient, the independent TURN client of the relay tests.
have turnutils_uclient || apt_install coturn
ensure_desktop_deps
ensure_rust
ensure_rust_components

export CROMULENT_TEST_PG_URL="${CROMULENT_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CROMULENT_TEST_NATS_URL="${CROMULENT_TEST_NATS_URL:-nats://127.0.0.1:4222}"
ensure_postgres "$CROMULENT_TEST_PG_URL"
ensure_nats
CROMULENT_TEST_PYTHON=$(python_with_aiosmtpd)
ensure_moto "$CROMULENT_TEST_PYTHON"
export CROMULENT_TEST_PYTHON
note "$(cargo --version), target dir $CARGO_TARGET_DIR"
note "PostgreSQL: $CROMULENT_TEST_PG_URL"
note "NATS: $CROMULENT_TEST_NATS_URL"
note "Python for the SMTP sink and the S3 server: $CROMULENT_TEST_PYTHON"

banner "cargo fmt --check"
cargo fmt --all -- --check

banner "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

# --all-features includes the check that desktop-ui/src/generated matches the Rust types.
banner "cargo test (SQLite and PostgreSQL, generated TypeScript types)"
# `cargo test --workspace` builds the `cromulent` binary before any test runs; the
# CLI's end-to-end tests use that one instead of building another feature set.
export CROMULENT_BIN="$CARGO_TARGET_DIR/debug/cromulent"
# The SFU room tests run twelve `cromulent` clients in real time: a debug build cannot
# keep up on two cores, so they get the release build, made once here.
cargo build --release --locked -p cromulent-client --bin cromulent
export CROMULENT_RELEASE_BIN="$CARGO_TARGET_DIR/release/cromulent"
cargo test --workspace --all-features --locked "$@"

# Generated requests, valid and invalid, against a real server built by the tests above.
banner "OpenAPI: /api/openapi.json describes the server (schemathesis, every check)"
bash scripts/openapi-check.sh "$CARGO_TARGET_DIR/debug/cromulent-server"

# ---- desktop-ui: type checks, unit tests, build, end to end in Debian's Chromium -----
if [ -f desktop-ui/package.json ]; then
  banner "desktop-ui: npm ci, check, unit tests, build, end-to-end (Chromium)"
  ensure_node
  ensure_chromium
  (
    cd desktop-ui
    npm ci --no-audit --no-fund
    npm run check
    npm test
    npm run build
    npm run e2e
    # Voice through the built-in TURN relay only (iceTransportPolicy: relay).
    node ../server/tests/browser/relay_audio.mjs
    # The native client (`cromulent voice join`) and a Chromium page hear each other.
    node ../e2e/browser/native_browser.mjs
  )
fi

# The server image: built with podman, run on SQLite and PostgreSQL, restarted, stopped.
if [ -f scripts/test-container.sh ]; then bash scripts/test-container.sh; fi

# ---- the desktop app: WebDriver, global push-to-talk under Xvfb, the .deb -------------
if [ -f scripts/test-desktop.sh ]; then
  banner "Desktop app: WebDriver under Xvfb, global push-to-talk, .deb install"
  bash scripts/test-desktop.sh
fi
# --------------------------------------------------------------------------------------

banner "All checks passed"
