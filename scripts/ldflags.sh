#!/bin/sh
# Prints the -X flags that stamp the version into prometheus/common/version.
# The README, CI and the Dockerfile all build with:
#   CGO_ENABLED=0 go build -trimpath -ldflags "$(./scripts/ldflags.sh)" -o dcs_exporter .
set -eu
cd "$(dirname "$0")/.."
pkg=github.com/prometheus/common/version
version=$(cat VERSION 2>/dev/null || echo 0.0.0)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
date=$(date -u +%Y%m%dT%H:%M:%SZ)
printf -- '-s -w -X %s.Version=%s -X %s.Revision=%s -X %s.Branch=%s -X %s.BuildUser=%s -X %s.BuildDate=%s' \
  "$pkg" "$version" "$pkg" "$revision" "$pkg" "$branch" "$pkg" "dcs_exporter" "$pkg" "$date"
