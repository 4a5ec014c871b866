#!/usr/bin/env bash
# Builds the server image from packaging/Dockerfile with podman and runs it as people
# would: on SQLite with only a volume, then on the test PostgreSQL. Checks that it runs
# as uid 10001, serves the web client, keeps its data across a restart, is healthy by its
# own HEALTHCHECK, and stops within 10 s of SIGTERM with the request under way answered,
# gateway clients closed with 1001 and nothing acknowledged lost. Also runs
# packaging/compose.yaml through a compose implementation.
#
# No image registry is reachable here, so the Dockerfile's base images are replaced,
# through its build arguments only, by local stand-ins: Debian roots made with
# mmdebstrap and imported with `podman import`, with the Rust toolchain and Node.js this
# suite already uses copied in. They are kept and reused while their inputs are the same.
# Containers use the host's network and bind 127.0.0.1, so test traffic stays on loopback.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

IMAGE=localhost/cromulent-server:test
# Marks every image this script builds (intermediate stages too), so it prunes only those.
BUILD_LABEL=org.cromulent.test-build=1
# The host's CA bundle, which alone trusts the TLS proxy that package registries are
# reached through; the stand-ins carry it at a path of their own, because installing
# Debian's ca-certificates rewrites the usual one.
HOST_CA=/etc/ssl/certs/ca-certificates.crt
STANDIN_CA=/usr/local/share/cromulent-standin/host-ca.crt
DEBIAN_SUITE=bookworm
CONTAINERS_CONF=/etc/containers/containers.conf
PG_URL="${CROMULENT_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# ---- podman ----------------------------------------------------------------------------

# Sets `key = value` under [section] of containers.conf unless it is set already.
containers_conf_set() {
  local section=$1 key=$2 value=$3
  as_root mkdir -p "$(dirname "$CONTAINERS_CONF")"
  as_root touch "$CONTAINERS_CONF"
  if grep -Eq "^[[:space:]]*$key[[:space:]]*=[[:space:]]*$(printf '%s' "$value" | sed 's/[][]/\\&/g')[[:space:]]*$" "$CONTAINERS_CONF"; then
    return 0
  elif grep -Eq "^[[:space:]]*$key[[:space:]]*=" "$CONTAINERS_CONF"; then
    as_root sed -i -E "s|^[[:space:]]*$key[[:space:]]*=.*|$key = $value|" "$CONTAINERS_CONF"
  elif grep -Eq "^\[$section\][[:space:]]*$" "$CONTAINERS_CONF"; then
    as_root sed -i -E "/^\[$section\][[:space:]]*$/a $key = $value" "$CONTAINERS_CONF"
  else
    printf '\n[%s]\n%s = %s\n' "$section" "$key" "$value" | as_root tee -a "$CONTAINERS_CONF" >/dev/null
  fi
  note "$CONTAINERS_CONF: [$section] $key = $value"
}

ensure_podman() {
  # podman-compose: a compose implementation to read packaging/compose.yaml with.
  apt_install podman runc mmdebstrap podman-compose
  # This kernel's hybrid cgroups are refused by crun; runc runs on them. podman's default
  # ulimits cannot be applied here either.
  containers_conf_set engine runtime '"runc"'
  containers_conf_set containers default_ulimits '[]'
}

# ---- stand-in base images --------------------------------------------------------------

image_exists() {
  podman image exists "$1"
}

# A Debian root from mmdebstrap imported as image $1; further arguments go to
# mmdebstrap (packages, hooks) before the suite. $IMPORT_CHANGES: Dockerfile
# instructions for `podman import --change`.
debian_standin() {
  local name=$1
  shift
  note "making $name with mmdebstrap (once; reused while its inputs stay the same)" >&2
  local changes=() change
  for change in "${IMPORT_CHANGES[@]}"; do changes+=(--change "$change"); done
  mmdebstrap --quiet --variant=minbase \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    "$@" "$DEBIAN_SUITE" - \
    "deb http://deb.debian.org/debian $DEBIAN_SUITE main" \
    "deb http://deb.debian.org/debian $DEBIAN_SUITE-updates main" \
    "deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main" |
    podman import --quiet "${changes[@]}" - "$name" >/dev/null
}

# Copies the host CA bundle into the root being built ($1 of a customize hook).
CA_HOOK="mkdir -p \"\$1$(dirname "$STANDIN_CA")\" && cp $HOST_CA \"\$1$STANDIN_CA\""
CA_ENV=("ENV SSL_CERT_FILE=$STANDIN_CA" "ENV NODE_EXTRA_CA_CERTS=$STANDIN_CA" "ENV CARGO_HTTP_CAINFO=$STANDIN_CA")

# Prints a short hash of its arguments, to name a stand-in after its inputs.
inputs_hash() {
  printf '%s\n' "$@" | sha256sum | cut -c1-12
}

# The runtime base: Debian's minimal root, like debian:bookworm-slim.
runtime_standin() {
  local name="localhost/cromulent-standin-debian:$DEBIAN_SUITE"
  if ! image_exists "$name"; then
    IMPORT_CHANGES=('CMD ["bash"]')
    debian_standin "$name"
  fi
  echo "$name"
}

# The Rust base: Debian with a C toolchain and this suite's Rust toolchain. It shares the
# suite's crate registry and target directory at the same paths (bound in by the build),
# so the image build reuses every dependency the suite or an earlier image build compiled.
rust_standin() {
  local toolchain cargo_home name
  toolchain=$(rustc --print sysroot)
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  name="localhost/cromulent-standin-rust:$(inputs_hash "$(rustc -vV)" "$CARGO_TARGET_DIR" "$cargo_home" "$STANDIN_CA")"
  if ! image_exists "$name"; then
    IMPORT_CHANGES=(
      "ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      "ENV CARGO_HOME=$cargo_home" "ENV CARGO_TARGET_DIR=$CARGO_TARGET_DIR" "${CA_ENV[@]}"
      'CMD ["bash"]'
    )
    # The toolchain without its documentation (share/), which only rustup doc reads.
    debian_standin "$name" --include=build-essential,pkg-config,ca-certificates,git \
      --customize-hook="$CA_HOOK" \
      --customize-hook="mkdir -p \"\$1/usr/local/rust\" && cp -a $toolchain/bin $toolchain/lib $toolchain/libexec \"\$1/usr/local/rust/\""
  fi
  echo "$name"
}

# The Node.js base: Debian with this suite's Node.js and npm.
node_standin() {
  local node_dir name
  node_dir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  name="localhost/cromulent-standin-node:$(node --version | tr -d v)-$(inputs_hash "$node_dir" "$STANDIN_CA")"
  if ! image_exists "$name"; then
    IMPORT_CHANGES=("${CA_ENV[@]}" 'CMD ["node"]')
    debian_standin "$name" --include=ca-certificates \
      --customize-hook="$CA_HOOK" \
      --customize-hook="cp -a $node_dir/bin/node \"\$1/usr/local/bin/node\" && mkdir -p \"\$1/usr/local/lib\" && cp -a $node_dir/lib/node_modules \"\$1/usr/local/lib/\" && ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\""
  fi
  echo "$name"
}

# ---- running the image -----------------------------------------------------------------

CONTAINERS=()
VOLUMES=()
DATABASES=()

cleanup() {
  local name
  for name in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; done
  for name in "${VOLUMES[@]}"; do podman volume rm -f "$name" >/dev/null 2>&1 || true; done
  for name in "${DATABASES[@]}"; do psql "$PG_URL" -qc "drop database if exists $name with (force)" >/dev/null 2>&1 || true; done
  if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a podman command with its output kept for when it fails: podman prints errors
# here about the systemd timers it would run HEALTHCHECK with, which are harmless (the
# checks call `podman healthcheck run` themselves).
quietly() {
  "$@" >"$WORK/podman.out" 2>&1 || die "$* failed: $(cat "$WORK/podman.out")"
}

# Starts container $1 from the image with volume $2 on 127.0.0.1:$3; further arguments
# are `-e NAME=value` settings.
start_container() {
  local name=$1 volume=$2 port=$3
  shift 3
  # TURN and the SFU take free ports: other servers of the suite may hold the defaults.
  podman run -d --name "$name" --network host -v "$volume:/data" \
    -e BIND=127.0.0.1 -e PORT="$port" -e TURN_BIND=127.0.0.1 -e TURN_PORT=0 \
    -e VOICE_SFU_BIND=127.0.0.1 -e VOICE_SFU_PORT=0 "$@" "$IMAGE" >/dev/null 2>"$WORK/run.err" ||
    die "podman run failed: $(cat "$WORK/run.err")"
  wait_ready "$name" "$port"
}

wait_ready() {
  local name=$1 port=$2 i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || break
    sleep 0.1
  done
  podman logs "$name" >&2 || true
  die "$name did not become ready on 127.0.0.1:$port"
}

# The server process itself, seen from the host, runs as uid 10001.
check_uid() {
  local name=$1 pid uid
  pid=$(podman inspect -f '{{.State.Pid}}' "$name")
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
  [ "$uid" = 10001 ] || die "$name runs as uid $uid, not 10001"
  [ "$(podman exec "$name" id -u)" = 10001 ] || die "podman exec in $name is not uid 10001"
  note "runs as uid 10001"
}

check_health() {
  local name=$1
  # podman prints errors about systemd health-check timers it cannot set up here; the
  # exit status is the answer.
  podman healthcheck run "$name" >"$WORK/health.out" 2>&1 ||
    die "podman healthcheck run $name: unhealthy: $(cat "$WORK/health.out")"
  note "podman healthcheck run: healthy"
}

# Node's WebSocket client is behind a flag before Node 22.
NODE=(node)
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || NODE=(node --experimental-websocket)

check() {
  "${NODE[@]}" scripts/container_check.mjs "$@"
}

# The whole life of one deployment: serve, restart, stop. $1: label; further arguments
# are settings for the container.
exercise() {
  local label=$1 name volume port state
  shift
  name="cromulent-test-$label-$$"
  volume="cromulent-test-$label-data-$$"
  port=$(free_port)
  state="$WORK/$label.json"
  CONTAINERS+=("$name")
  VOLUMES+=("$volume")
  podman volume create "$volume" >/dev/null
  banner "Image on $label: serve, restart, SIGTERM"
  start_container "$name" "$volume" "$port" "$@"
  check_uid "$name"
  check_health "$name"
  check seed "http://127.0.0.1:$port" "$state"
  quietly podman restart -t 10 "$name"
  wait_ready "$name" "$port"
  check verify "http://127.0.0.1:$port" "$state"
  check stop "http://127.0.0.1:$port" "$state" "$name"
  quietly podman start "$name"
  wait_ready "$name" "$port"
  check verify "http://127.0.0.1:$port" "$state"
  quietly podman rm -f -t 10 "$name"
}

# Every setting packaging/compose.yaml hands the server, as a compose implementation
# reads it, must be one the server reads: a misspelt name would be ignored in silence.
check_compose() {
  local out=$WORK/compose.out name unknown=()
  banner "packaging/compose.yaml: read by podman-compose, every setting known to the server"
  # --podman-path /bin/true: the commands are printed, none is run (nothing is created).
  if (cd packaging && env -u SECRET_KEY_BASE podman-compose --podman-path /bin/true --dry-run \
    -f compose.yaml up -d >"$out" 2>&1); then
    die "compose.yaml starts without SECRET_KEY_BASE; it must refuse to"
  fi
  (cd packaging && SECRET_KEY_BASE=compose-check PUBLIC_URL=https://chat.example.org \
    podman-compose --podman-path /bin/true --dry-run -f compose.yaml up -d >"$out" 2>&1) ||
    die "podman-compose cannot read packaging/compose.yaml: $(cat "$out")"
  grep -q -- '--label com.docker.compose.service=server .* cromulent-server:local' "$out" ||
    die "podman-compose made no cromulent-server container of compose.yaml: $(cat "$out")"
  # The server's own list of settings: every [env: NAME] of its --help. RUST_LOG is read
  # by the log filter, not the settings parser.
  podman run --rm --network host "$IMAGE" --help 2>/dev/null | grep -o '\[env: [A-Z0-9_]*' | cut -c7- >"$WORK/known"
  echo RUST_LOG >>"$WORK/known"
  [ "$(wc -l <"$WORK/known")" -gt 50 ] || die "the image's --help lists too few settings: $(cat "$WORK/known")"
  grep -- 'com.docker.compose.service=server ' "$out" | grep -o -- ' -e [A-Z0-9_]*' | cut -c5- | sort -u >"$WORK/passed"
  [ -s "$WORK/passed" ] || die "podman-compose passes the server no settings?"
  while read -r name; do
    grep -qx "$name" "$WORK/known" || unknown+=("$name")
  done <"$WORK/passed"
  [ "${#unknown[@]}" -eq 0 ] || die "compose.yaml passes settings the server does not read: ${unknown[*]}"
  note "$(wc -l <"$WORK/passed") settings passed, each one the server reads; no SECRET_KEY_BASE: refused"
}

# ---- main ------------------------------------------------------------------------------

ensure_podman
ensure_node
have psql || apt_install postgresql-client
ensure_postgres "$PG_URL"
WORK=$(mktemp -d)

banner "Stand-in base images"
RUNTIME_IMAGE=$(runtime_standin)
RUST_IMAGE=$(rust_standin)
NODE_IMAGE=$(node_standin)
note "RUST_IMAGE=$RUST_IMAGE"
note "NODE_IMAGE=$NODE_IMAGE"
note "RUNTIME_IMAGE=$RUNTIME_IMAGE"

banner "podman build -f packaging/Dockerfile"
cargo_home=${CARGO_HOME:-$HOME/.cargo}
mkdir -p "$CARGO_TARGET_DIR" "$cargo_home/registry"
built_at=$SECONDS
# --format docker keeps HEALTHCHECK (the OCI format has no such field). The suite's
# target directory and crate registry are bound in at the paths the Rust stand-in names.
# nice: the build shares the machine with the rest of the suite.
nice -n 10 podman build --format docker --network host --label "$BUILD_LABEL" \
  --build-arg RUST_IMAGE="$RUST_IMAGE" --build-arg NODE_IMAGE="$NODE_IMAGE" \
  --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
  -v "$CARGO_TARGET_DIR:$CARGO_TARGET_DIR" -v "$cargo_home/registry:$cargo_home/registry" \
  -f packaging/Dockerfile -t "$IMAGE" . >"$WORK/build.log" 2>&1 ||
  { tail -n 60 "$WORK/build.log" >&2; die "podman build failed (last lines above)"; }
note "built in $((SECONDS - built_at)) s; cargo compiled $(grep -c ' Compiling ' "$WORK/build.log") crates"
# Earlier builds' layers, kept a day as the build cache, then dropped so they do not pile up.
podman image prune -f --filter "label=$BUILD_LABEL" --filter until=24h >/dev/null
base_size=$(podman image inspect -f '{{.Size}}' "$RUNTIME_IMAGE")
image_size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
added=$(((image_size - base_size) / 1000000))
note "image $((image_size / 1000000)) MB, of which the Dockerfile adds $added MB to its runtime base"
[ "$added" -le 40 ] || die "the Dockerfile adds $added MB to its runtime base; the budget is 40 MB"
[ "$(podman image inspect -f '{{.Config.User}}' "$IMAGE")" = 10001:10001 ] || die "the image does not run as 10001"
podman image inspect -f '{{.Config.Healthcheck.Test}}' "$IMAGE" | grep -q healthcheck ||
  die "the image has no HEALTHCHECK (built without --format docker?)"

check_compose

exercise sqlite

database="cromulent_container_$$"
DATABASES+=("$database")
psql "$PG_URL" -qc "create database $database" >/dev/null
exercise postgres -e DATABASE_URL="${PG_URL%/*}/$database"

banner "Container checks passed"
