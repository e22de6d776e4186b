#!/usr/bin/env bash
# Builds the pinned external tools (tools/pinned/*/go.mod, one module per tool
# so their dependency graphs never mix) into a directory.
#
# Usage: scripts/pinned-tools.sh [DIR [TOOL...]]
#   DIR   where the binaries go (default .tools/bin)
#   TOOL  prometheus, promtool, alertmanager, helm, golangci-lint, goreleaser,
#         redis_exporter (default: all of them)
#
# A binary is rebuilt only when its module's go.mod or go.sum changed since
# it was built (a checksum beside it, .NAME.pin), so one directory can serve
# several checkouts (DCS_TOOLS_BIN). Two runs into one directory take turns
# (flock), so parallel test runs do not race. The README's development table
# has the build times.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath -m "${1:-.tools/bin}")
[ $# -gt 0 ] && shift
mkdir -p "$bin"

# name, module directory under tools/pinned, package
tools=(
  "prometheus prometheus github.com/prometheus/prometheus/cmd/prometheus"
  "promtool prometheus github.com/prometheus/prometheus/cmd/promtool"
  "alertmanager alertmanager github.com/prometheus/alertmanager/cmd/alertmanager"
  "helm helm helm.sh/helm/v3/cmd/helm"
  "golangci-lint golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
  "goreleaser goreleaser github.com/goreleaser/goreleaser/v2"
  "redis_exporter redis_exporter github.com/oliver006/redis_exporter"
)

work=$(mktemp -d)
build_pid=
# A build still running when the script stops (Ctrl-C, a failure) is ended
# by its PID; nothing else is touched.
trap '[ -z "$build_pid" ] || kill "$build_pid" 2>/dev/null; rm -rf "$work"' EXIT

# Since v0.32 the Alertmanager module no longer contains its web UI
# (ui/app/dist, built with npm; prometheus/alertmanager#5163), so `go build`
# of it stops at the go:embed of that directory. Build it from a copy of the
# module with a one-page placeholder UI instead, through a go.mod that
# replaces the module with the copy; the API, all the tests use, is whole.
stub_alertmanager_ui() {
  local moddir=tools/pinned/alertmanager src
  go mod download -C "$moddir" github.com/prometheus/alertmanager
  src=$(go list -C "$moddir" -m -f '{{.Dir}}' github.com/prometheus/alertmanager)
  cp -R "$src" "$work/alertmanager-src"
  chmod -R u+w "$work/alertmanager-src"
  for ui in elm mantine; do
    mkdir -p "$work/alertmanager-src/ui/app/dist/$ui"
    echo '<!doctype html><title>Alertmanager</title><p>Built by dcs_exporter/scripts/pinned-tools.sh without the web UI; the API is complete.' \
      >"$work/alertmanager-src/ui/app/dist/$ui/index.html"
  done
  cp "$moddir/go.mod" "$work/alertmanager.mod"
  cp "$moddir/go.sum" "$work/alertmanager.sum"
  go mod edit -modfile="$work/alertmanager.mod" -replace "github.com/prometheus/alertmanager=$work/alertmanager-src"
}

checksum() {
  if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -c1-64
}

wanted() {
  [ $# -eq 1 ] && return 0
  local name=$1 w
  shift
  for w in "$@"; do [ "$w" = "$name" ] && return 0; done
  return 1
}

for w in "$@"; do
  known=
  for t in "${tools[@]}"; do [ "${t%% *}" = "$w" ] && known=1; done
  [ -n "$known" ] || { echo "pinned-tools.sh: unknown tool $w" >&2; exit 2; }
done

# up_to_date NAME DIR: the binary is there with the checksum of its module.
# A stamp is written only after its binary is in place, so this needs no
# lock.
up_to_date() {
  [ -x "$bin/$1" ] && [ -f "$bin/.$1.pin" ] &&
    [ "$(cat "$bin/.$1.pin")" = "$(cat "tools/pinned/$2/go.mod" "tools/pinned/$2/go.sum" | checksum)" ]
}

# Nothing to build: done at once, even while another run holds the lock to
# build other tools into the same directory.
all_fresh=1
for t in "${tools[@]}"; do
  read -r name dir pkg <<<"$t"
  wanted "$name" "$@" || continue
  up_to_date "$name" "$dir" || { all_fresh=; break; }
done
[ -z "$all_fresh" ] || exit 0

if command -v flock >/dev/null; then
  exec 9>"$bin/.lock"
  flock 9
fi

for t in "${tools[@]}"; do
  read -r name dir pkg <<<"$t"
  wanted "$name" "$@" || continue
  out=$bin/$name
  mod=tools/pinned/$dir/go.mod
  pin=$(cat "$mod" "tools/pinned/$dir/go.sum" | checksum)
  stamp=$bin/.$name.pin
  if [ -x "$out" ]; then
    if [ -f "$stamp" ]; then
      [ "$(cat "$stamp")" = "$pin" ] && continue
    elif [ "$out" -nt "$mod" ]; then
      echo "$pin" >"$stamp" # built before the checksums existed
      continue
    fi
  fi
  module=${pkg%%/cmd/*}
  version=$(awk -v m="$module" '$1 == m { print $2; exit }' "$mod")
  echo "building $name ($module ${version:-pinned})" >&2
  modflags=()
  if [ "$name" = alertmanager ]; then stub_alertmanager_ui; modflags=(-modfile="$work/alertmanager.mod"); fi
  # A cold build of one tool takes minutes without a word from go build:
  # say every 30 s that it is still going.
  started=$SECONDS
  go build -C "tools/pinned/$dir" "${modflags[@]}" -trimpath -o "$out.tmp" "$pkg" &
  build_pid=$!
  report=30
  while kill -0 "$build_pid" 2>/dev/null; do
    sleep 2
    if [ $((SECONDS - started)) -ge "$report" ] && kill -0 "$build_pid" 2>/dev/null; then
      echo "  still building $name ($((SECONDS - started)) s)" >&2
      report=$((report + 30))
    fi
  done
  wait "$build_pid"
  build_pid=
  echo "built $name in $((SECONDS - started)) s" >&2
  mv "$out.tmp" "$out"
  echo "$pin" >"$stamp"
done
