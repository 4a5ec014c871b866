#!/usr/bin/env bash
# The desktop app end to end, on this machine or a CI runner, with nothing but real
# parts: builds the .deb with the Tauri CLI from npm, then under its own Xvfb display and
# a private D-Bus session with an unlocked gnome-keyring, against a real server on free
# ports:
#   (a) WebDriver (tauri-driver + WebKitWebDriver): title, login, channels, a message
#       stored on the server, a voice room join seen by another user, automatic login
#       after a restart, a pasted image uploaded through the app and drawn inline;
#   (b) global push-to-talk with the window unfocused: xdotool Left Ctrl down/up is seen
#       as ptt_state by another user's gateway session, another key causes nothing;
#   (c) `dpkg -i` of the .deb, the installed binary starts and stays up, `dpkg -r`;
#   (d) (in the WebDriver run) updates: the server offers a newer release signed with a
#       throwaway key, the app shows the prompt; its bundle was tampered with after
#       signing, so installing is refused with the reason and the app keeps working.
# Usage: scripts/test-desktop.sh   (DESKTOP_SKIP_DEB=1 skips (c), e.g. without root;
#        DESKTOP_SKIP_BUILD=1 uses the server, `cromulent` and app already built)
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

banner "desktop: prerequisites"
ensure_build_tools
ensure_desktop_deps
ensure_node
ensure_rust

WORK=$(mktemp -d /tmp/cromulent-desktop-test.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The app's D-Bus session starts xdg-document-portal, which mounts a FUSE file system
  # in the runtime dir.
  fusermount -u "$WORK/run/doc" 2>/dev/null || true
  if [ -n "${KEEP_DESKTOP_TEST:-}" ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A TCP port nothing listens on, below the ephemeral range.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    port_open 127.0.0.1 "$port" || { echo "$port"; return; }
  done
}

# An X display number nobody uses.
free_display() {
  local n
  for n in $(seq 90 190); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { echo "$n"; return; }
  done
  die "no free X display between :90 and :190"
}

banner "desktop: UI dependencies and the Tauri CLI (npm)"
(cd desktop-ui && { [ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund; })

banner "desktop: tauri-driver"
TOOLS="$HOME/.cache/cromulent/tools"
if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
  cargo install tauri-driver --locked --root "$TOOLS"
fi

banner "desktop: a throwaway updater key"
# The app trusts only the public key in its configuration. The tests sign with a key of
# their own, made once on this machine (never in the repository), and build the app with
# its public key instead of the project's; the endpoints are plain http on loopback, so
# the build also allows that. Kept across runs so the build stays cached.
TAURI="$REPO_ROOT/desktop-ui/node_modules/.bin/tauri"
UPDATER_KEY="$HOME/.cache/cromulent/updater-test-key"
if [ ! -s "$UPDATER_KEY.pub" ]; then
  mkdir -p "$(dirname "$UPDATER_KEY")"
  "$TAURI" signer generate --ci -p "" -f -w "$UPDATER_KEY" >/dev/null
fi
UPDATER_CONFIG="$HOME/.cache/cromulent/updater-test-config.json"
printf '{"plugins":{"updater":{"pubkey":"%s","dangerousInsecureTransportProtocol":true}}}\n' \
  "$(cat "$UPDATER_KEY.pub")" >"$UPDATER_CONFIG.new"
cmp -s "$UPDATER_CONFIG.new" "$UPDATER_CONFIG" && rm "$UPDATER_CONFIG.new" || mv "$UPDATER_CONFIG.new" "$UPDATER_CONFIG"

banner "desktop: server and the app's .deb (tauri build)"
if [ -z "${DESKTOP_SKIP_BUILD:-}" ]; then
  cargo build -p cromulent-server
  cargo build -p cromulent-client --bin cromulent
  (cd desktop/app && "$TAURI" build --bundles deb --config "$UPDATER_CONFIG")
fi
DEB=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -1)
APP="$CARGO_TARGET_DIR/release/cromulent-desktop"
note "$DEB ($(du -k "$DEB" | cut -f1) KiB)"

banner "desktop: Xvfb, server, users"
DISPLAY_NUM=$(free_display)
Xvfb ":$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

PORT=$(free_port)
SERVER="http://127.0.0.1:$PORT"
env -u DATABASE_URL PORT="$PORT" BIND=127.0.0.1 DATA_DIR="$WORK/data" PUBLIC_URL="$SERVER" \
  DEV_MAILBOX=true TURN_PORT=0 VOICE_SFU_BIND=127.0.0.1 VOICE_SFU_PORT=0 RUST_LOG=warn \
  "$CARGO_TARGET_DIR/debug/cromulent-server" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
wait_for_port 127.0.0.1 "$PORT" 60 || die "server did not start (see $WORK/server.log)"

api() { # method path [json] [token]
  curl -sSf -X "$1" "$SERVER$2" -H 'Content-Type: application/json' \
    ${4:+-H "Authorization: Bearer $4"} ${3:+-d "$3"}
}
field() { node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
api POST /api/auth/register '{"email":"alice@example.test","username":"alice","password":"alice-password-1"}' >/dev/null
api POST /api/auth/register '{"email":"bob@example.test","username":"bob","password":"bob-password-1"}' >/dev/null
REFRESH=$(api POST /api/auth/login '{"email":"alice@example.test","password":"alice-password-1"}' | field refresh_token)
ADMIN=$(api POST /api/auth/refresh "{\"refresh_token\":\"$REFRESH\"}" | field access_token)
api POST /api/channels '{"name":"desk-text","kind":"text","is_default":true}' "$ADMIN" >/dev/null
api POST /api/channels '{"name":"desk-voice","kind":"voice","is_default":true}' "$ADMIN" >/dev/null

# (d) A newer release, signed, installed by the admin command; then its bundle is
# changed on disk, as a compromised mirror or disk would, so the signature no longer
# matches what is downloaded.
UPDATE_VERSION=999.0.0
mkdir -p "$WORK/release"
head -c 65536 /dev/urandom >"$WORK/release/Cromulent.AppImage"
TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" "$TAURI" signer sign -f "$UPDATER_KEY" \
  --app-version "$UPDATE_VERSION" "$WORK/release/Cromulent.AppImage" >/dev/null
cat >"$WORK/release/release.json" <<JSON
{"version":"$UPDATE_VERSION","target":"linux","arch":"$(uname -m)","notes":"Release notes of $UPDATE_VERSION","bundle":"Cromulent.AppImage"}
JSON
env -u DATABASE_URL DATA_DIR="$WORK/data" "$CARGO_TARGET_DIR/debug/cromulent-server" release add "$WORK/release"
echo "tampered" >>"$WORK/data/releases/linux/$(uname -m)/$UPDATE_VERSION/Cromulent.AppImage"

banner "desktop: (a)+(b) WebDriver and global push-to-talk"
DRIVER_PORT=$(free_port)
NATIVE_PORT=$(free_port)
mkdir -p "$WORK/home" "$WORK/run" "$WORK/shots"
chmod 700 "$WORK/run"
export APP DRIVER="http://127.0.0.1:$DRIVER_PORT" SERVER ALICE="alice@example.test:alice-password-1" \
  BOB="bob@example.test:bob-password-1" UPDATE_VERSION TEXT_CHANNEL=desk-text VOICE_CHANNEL=desk-voice SHOTS="$WORK/shots" EXPECT_NATIVE_AUDIO=1 \
  CROMULENT="$CARGO_TARGET_DIR/debug/cromulent"
# A private HOME (config, keyring files) and runtime dir (push-to-talk socket, sound
# server); the keyring is unlocked from stdin, so storing the refresh token never
# prompts; PulseAudio with a null sink gives the native voice engine a microphone and a
# speaker (ALSA's default device routes to it), kept at low latency by a reader.
HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/run" dbus-run-session -- bash -c '
  set -e
  echo -n test-pass | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
  pulseaudio --daemonize=yes --exit-idle-time=-1 --system=false --disallow-exit \
    --log-target="file:$3/pulse.log" 2>/dev/null
  for _ in $(seq 100); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  pactl load-module module-null-sink sink_name=v rate=48000 >/dev/null
  pactl set-default-sink v
  pactl set-default-source v.monitor
  parec -d v.monitor --latency-msec=10 --raw >/dev/null &
  keepalive=$!
  "$0" --port "$1" --native-port "$2" --native-driver /usr/bin/WebKitWebDriver >"$3/driver.log" 2>&1 &
  driver=$!
  trap "kill $driver $keepalive 2>/dev/null; wait $driver 2>/dev/null; pulseaudio --kill 2>/dev/null || true" EXIT
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && break; sleep 0.1; done
  node --experimental-websocket "$4"
' "$TOOLS/bin/tauri-driver" "$DRIVER_PORT" "$NATIVE_PORT" "$WORK" "$REPO_ROOT/desktop/app/tests/webdriver.mjs" \
  < /dev/null &
WD_PID=$!
if ! wait "$WD_PID"; then
  note "driver log: $WORK/driver.log, server log: $WORK/server.log, screenshots: $WORK/shots"
  # CI keeps only what is printed: the driver's last words say why it stopped answering.
  note "the driver log's last lines:"
  tail -n 40 "$WORK/driver.log" >&2 || true
  KEEP_DESKTOP_TEST=1
  die "desktop WebDriver / push-to-talk checks failed"
fi

if [ -z "${DESKTOP_SKIP_DEB:-}" ]; then
  banner "desktop: (c) the .deb installs and its binary starts"
  as_root dpkg -i "$DEB"
  # Up for 5 s under Xvfb and its own D-Bus session, then ended by us: a start that
  # fails (missing library, bad bundle) exits long before.
  if ! HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/run" dbus-run-session -- bash -c '
    echo -n test-pass | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
    /usr/bin/cromulent-desktop >"$0/installed.log" 2>&1 &
    app=$!
    sleep 5
    kill -0 "$app" || exit 1
    kill "$app"; wait "$app" || true' "$WORK"; then
    as_root dpkg -r cromulent || true
    KEEP_DESKTOP_TEST=1
    die "the installed app exited early (see $WORK/installed.log)"
  fi
  as_root dpkg -r cromulent
  note "installed, started for 5 s, removed"
fi

banner "desktop: all checks passed"
