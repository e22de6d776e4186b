#!/usr/bin/env bash
# Checks the release configuration without publishing anything: validates
# .goreleaser.yaml, builds the snapshot release for linux, darwin and windows
# on amd64 and arm64 into a temporary directory, and checks that
#   - the six binaries and their six archives (zip on windows) exist,
#   - sha256sums.txt lists every archive with its right checksum,
#   - the linux/amd64 binary's --version prints the version GoReleaser
#     stamped (VERSION-snapshot+<commit>, see dist/metadata.json).
# The image is not built here (no docker daemon in CI); the release job of
# .github/workflows/ci.yml builds and pushes it on a tag.
#
# Usage: scripts/release-check.sh     (goreleaser v2.15.1 on PATH; it is pinned
#        in tools/pinned/goreleaser and built by scripts/pinned-tools.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v goreleaser >/dev/null; then
	echo "release-check: goreleaser is not on PATH (build it with scripts/pinned-tools.sh)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# GoReleaser's output directory is a configuration key, not a flag: check a
# copy of the configuration that writes into the temporary directory.
config="$work/goreleaser.yaml"
cp .goreleaser.yaml "$config"
printf '\ndist: %s\n' "$work/dist" >>"$config"

echo "--- goreleaser check"
goreleaser check --config "$config"

echo "--- goreleaser release --snapshot (6 platforms)"
start=$(date +%s)
goreleaser release --snapshot --clean --skip=docker --config "$config" >"$work/release.log" 2>&1 || {
	cat "$work/release.log"
	exit 1
}
echo "built in $(($(date +%s) - start)) s"

dist="$work/dist"
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
if [ -z "$version" ]; then
	echo "release-check: no version in $dist/metadata.json" >&2
	exit 1
fi
case "$version" in
"$(tr -d '[:space:]' <VERSION)-snapshot+"*) ;;
*)
	echo "release-check: snapshot version $version does not start with VERSION $(cat VERSION)" >&2
	exit 1
	;;
esac

failed=0
problem() {
	echo "FAIL $*"
	failed=1
}
for os in linux darwin windows; do
	for arch in amd64 arm64; do
		ext=tar.gz exe=
		if [ "$os" = windows ]; then ext=zip exe=.exe; fi
		archive="dcs_exporter-$version.$os-$arch.$ext"
		binary=$(find "$dist" -path "*${os}_${arch}*" -name "dcs_exporter$exe" -type f | head -n 1)
		[ -n "$binary" ] || problem "no $os/$arch binary in $dist"
		[ -s "$dist/$archive" ] || problem "no archive $archive"
		sum=$(grep -F "  $archive" "$dist/sha256sums.txt" | cut -d' ' -f1 || true)
		if [ -z "$sum" ]; then
			problem "$archive is not in sha256sums.txt"
		elif [ -s "$dist/$archive" ] && [ "$sum" != "$(sha256sum "$dist/$archive" | cut -d' ' -f1)" ]; then
			problem "the checksum of $archive is wrong"
		else
			echo "ok   $os/$arch: $archive"
		fi
	done
done

binary=$(find "$dist" -path '*linux_amd64*' -name dcs_exporter -type f | head -n 1)
if [ -n "$binary" ]; then
	out=$("$binary" --version 2>&1)
	if grep -qF "version $version" <<<"$out"; then
		echo "ok   linux/amd64 --version: $(head -n 1 <<<"$out")"
	else
		problem "linux/amd64 --version does not print version $version:"$'\n'"$out"
	fi
fi

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "release-check: snapshot $version complete for 6 platforms"
