#!/usr/bin/env bash
# Desktop app benchmark (not a test): start-up time to the first page load, idle memory
# summed over every process of the app (the app, WebKitWebProcess, WebKitNetworkProcess)
# and the .deb's size. Runs the app under its own Xvfb and D-Bus session.
# Usage: desktop/app/bench/measure.sh <app binary> [<.deb>] [runs, default 5]
# Prints one line per start and a summary; docs/BENCHMARKS.md ("Desktop app") has results.
set -euo pipefail

APP=$1
DEB=${2:-}
RUNS=${3:-5}
WORK=$(mktemp -d /tmp/cromulent-desktop-bench.XXXXXX)
trap 'kill "${XVFB:-}" 2>/dev/null || true; fusermount -u "$WORK/run/doc" 2>/dev/null || true; rm -rf "$WORK"' EXIT

for n in $(seq 90 190); do [ -e "/tmp/.X$n-lock" ] || break; done
Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
export DISPLAY=":$n"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# Sums a field (kB) of /proc/<pid>/<file> over the app and all its descendants.
tree_sum() { # pid file field
  local pids pid total=0 v
  pids=$(pstree -pT "$1" | grep -o '([0-9]\+)' | tr -d '()')
  for pid in $pids; do
    v=$(awk -v f="$3:" '$1 == f { print $2 }' "/proc/$pid/$2" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

mkdir -p "$WORK/home" "$WORK/run"
chmod 700 "$WORK/run"
for i in $(seq "$RUNS"); do
  log="$WORK/run-$i.log"
  # Each start is a fresh process and a fresh profile (no WebKit caches); the OS page
  # cache stays warm, so this is a warm-disk start.
  rm -rf "$WORK/home"/* "$WORK/run"/*
  HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/run" dbus-run-session -- bash -c '
    t0=$(date +%s%N)
    "$0" >"$1" 2>&1 &
    app=$!
    for _ in $(seq 300); do grep -q "page loaded" "$1" && break; sleep 0.02; done
    t1=$(date +%s%N)
    echo "wall_ms=$(( (t1 - t0) / 1000000 ))" >>"$1"
    sleep "$2"
    echo "app_pid=$app" >>"$1"
    '"$(declare -f tree_sum)"'
    echo "rss_kb=$(tree_sum "$app" status VmRSS)" >>"$1"
    echo "pss_kb=$(tree_sum "$app" smaps_rollup Pss)" >>"$1"
    echo "procs=$(pstree -pT "$app" | grep -o "([0-9]\+)" | wc -l)" >>"$1"
    kill "$app"; wait "$app" 2>/dev/null || true
  ' "$APP" "$log" 15
  # The app's own count from the start of main (its log may be coloured).
  in_app=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep 'page loaded' | grep -o ' ms=[0-9]*' | head -1 | cut -d= -f2)
  printf 'run %d: page loaded after %s ms (in-app %s ms); idle after 15 s: RSS %s MiB, PSS %s MiB over %s processes\n' \
    "$i" "$(grep -o 'wall_ms=[0-9]*' "$log" | cut -d= -f2)" "${in_app:-?}" \
    "$(( $(grep -o 'rss_kb=[0-9]*' "$log" | cut -d= -f2) / 1024 ))" \
    "$(( $(grep -o 'pss_kb=[0-9]*' "$log" | cut -d= -f2) / 1024 ))" \
    "$(grep -o 'procs=[0-9]*' "$log" | cut -d= -f2)"
done
if [ -n "$DEB" ]; then
  printf '.deb: %s (%s KiB); installed size %s KiB\n' "$(basename "$DEB")" "$(du -k "$DEB" | cut -f1)" \
    "$(dpkg-deb -f "$DEB" Installed-Size)"
fi
