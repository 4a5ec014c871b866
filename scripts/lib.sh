# shellcheck shell=bash
# Shell functions shared by scripts/run.sh and scripts/test.sh (sourced, not run).
#
# Everything here is idempotent: it checks first and installs or starts only what is
# missing, so a second run costs a few milliseconds per check.

# Builds land outside the clone, so a fresh CI clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cromulent/target}"
export DEBIAN_FRONTEND=noninteractive

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

banner() {
  printf '\n==> %s\n' "$*"
}

note() {
  printf '    %s\n' "$*"
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif have sudo; then
    sudo -n "$@" || die "'$*' needs root; run it once with sudo yourself, then retry"
  else
    die "'$*' needs root and sudo is not installed"
  fi
}

deb_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs the Debian packages among "$@" that are not installed yet. The package
# lists are refreshed only when something is missing.
apt_install() {
  local missing=() pkg
  have dpkg-query || die "not a Debian-like system: install $* yourself"
  for pkg in "$@"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  note "installing ${missing[*]}"
  as_root apt-get -o DPkg::Lock::Timeout=900 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
    install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What compiling the workspace needs from the system.
ensure_build_tools() {
  apt_install build-essential pkg-config ca-certificates curl
}

# cargo on PATH, installing the stable toolchain through rustup when it is missing.
ensure_rust() {
  if ! have cargo && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
  fi
  have cargo && return 0
  note "cargo not found: installing the Rust toolchain with rustup"
  if curl --proto '=https' --tlsv1.2 -sSf --connect-timeout 20 --max-time 120 https://sh.rustup.rs -o /tmp/rustup-init.sh &&
    sh /tmp/rustup-init.sh -y --profile minimal --component rustfmt,clippy >/dev/null; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
  fi
  have cargo || die "cargo is missing and rustup's installer could not be downloaded.
Install Rust (https://rustup.rs) by hand, or put an existing cargo on PATH, then retry."
}

# rustfmt and clippy for the checks in test.sh.
ensure_rust_components() {
  local missing=() component
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  [ "${#missing[@]}" -eq 0 ] && return 0
  have rustup || die "cargo ${missing[*]} missing and there is no rustup to add them"
  for component in "${missing[@]}"; do
    rustup component add "$component" || die "could not add the Rust component $component"
  done
}

# True when something accepts TCP connections on host:port (bash's /dev/tcp, no tools).
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# Waits up to $3 seconds for host:port to accept connections.
wait_for_port() {
  local host=$1 port=$2 seconds=$3 i
  for ((i = 0; i < seconds * 5; i++)); do
    port_open "$host" "$port" && return 0
    sleep 0.2
  done
  return 1
}

# PostgreSQL on 127.0.0.1:5432, installing and starting a local cluster when none answers.
ensure_postgres() {
  local url=$1 created=0 version
  if ! port_open 127.0.0.1 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
      if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        # Installed earlier, but its cluster was dropped: make a fresh one.
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        as_root pg_createcluster "$version" main >/dev/null
      fi
      created=1
    fi
    version=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' | sort -V | tail -n 1)
    version=${version##*/}
    [ -n "$version" ] || die "no PostgreSQL cluster found under /etc/postgresql"
    if [ "$created" -eq 1 ]; then
      # A cluster made here for the tests: let local TCP clients in without a
      # password, as CROMULENT_TEST_PG_URL expects. Clusters we did not make are
      # left as they are.
      local hba="/etc/postgresql/$version/main/pg_hba.conf"
      as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
    fi
    note "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      port_open 127.0.0.1 5432 || die "PostgreSQL $version would not start"
    wait_for_port 127.0.0.1 5432 30 || die "PostgreSQL did not listen on 127.0.0.1:5432 within 30 s"
  fi
  have psql || return 0
  local i error
  for ((i = 0; i < 30; i++)); do
    error=$(psql "$url" -qAtc 'select 1' 2>&1 >/dev/null) && return 0
    case $error in
      *"starting up"* | *"Connection refused"*) sleep 1 ;;
      *) break ;;
    esac
  done
  die "PostgreSQL answers on 127.0.0.1:5432 but '$url' does not let us in:
$error
Set CROMULENT_TEST_PG_URL to a superuser URL that works (the tests CREATE DATABASE)."
}

# NATS with JetStream on 127.0.0.1:4222.
ensure_nats() {
  port_open 127.0.0.1 4222 && return 0
  have nats-server || [ -x /usr/sbin/nats-server ] || apt_install nats-server
  note "starting nats-server"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for_port 127.0.0.1 4222 30 || die "nats-server did not listen on 127.0.0.1:4222 within 30 s
(see /var/log/nats-server.log)"
}

# Prints the path of a Python that can import aiosmtpd (for the SMTP sink in the mail
# tests), installing it with pip or, failing that, from Debian's packages.
python_with_aiosmtpd() {
  local python
  # The interpreter itself, not a version manager's shim that depends on the directory.
  python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
  if [ -n "$python" ]; then
    "$python" -c 'import aiosmtpd' 2>/dev/null && { echo "$python"; return 0; }
    if PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check aiosmtpd >&2 &&
      "$python" -c 'import aiosmtpd' 2>/dev/null; then
      echo "$python"
      return 0
    fi
  fi
  note "pip could not install aiosmtpd; using Debian's python3-aiosmtpd" >&2
  apt_install python3 python3-aiosmtpd >&2
  /usr/bin/python3 -c 'import aiosmtpd' || die "python3 cannot import aiosmtpd"
  echo /usr/bin/python3
}

# Makes the Python given (from python_with_aiosmtpd) able to run moto's S3 server, the
# real S3-compatible store of the attachment tests (scripts/s3_server.py).
ensure_moto() {
  local python=$1
  "$python" -c 'import moto.server, flask' 2>/dev/null && return 0
  if [ "$python" != /usr/bin/python3 ] &&
    PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check 'moto[server]' >&2 &&
    "$python" -c 'import moto.server, flask' 2>/dev/null; then
    return 0
  fi
  PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check \
    --break-system-packages 'moto[server]' >&2 || true
  "$python" -c 'import moto.server, flask' || die "$python cannot import moto's server"
}

# Node.js and npm for desktop-ui, from Debian's packages when missing. Vite 7 needs
# Node 20.19 or newer; older distributions ship an older Node, so say so plainly.
ensure_node() {
  have npm || apt_install nodejs npm
  node -e 'const [a, b] = process.versions.node.split(".").map(Number);
           process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
    || die "desktop-ui needs Node.js 20.19 or newer (found $(node --version)); install a newer Node.js"
}

# Debian's Chromium for the web client's end-to-end tests (never a downloaded browser).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# What the native client and the desktop app build against and test with: ALSA (cpal),
# cmake (the bundled libopus), a PulseAudio null sink instead of a sound card, a private
# Secret Service (gnome-keyring) and the kernel keyring, an X server with xdotool for
# global keys, WebKitGTK and its WebDriver for the Tauri app, sox for test tones.
ensure_desktop_deps() {
  apt_install cmake libasound2-dev libasound2-plugins alsa-utils pulseaudio sox \
    keyutils dbus dbus-x11 gnome-keyring libsecret-tools \
    xvfb xauth xdotool x11-utils imagemagick iproute2 \
    libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev \
    libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev libxtst-dev webkit2gtk-driver
}
