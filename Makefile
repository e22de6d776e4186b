# Shortcuts for the commands the README and .ci/run use. Plain `make` builds
# the exporter and runs the fast tests.

# The pinned external tools (scripts/pinned-tools.sh) are built into, and
# taken from, this directory; several checkouts may share one.
DCS_TOOLS_BIN ?= $(CURDIR)/.tools/bin
export DCS_TOOLS_BIN

# The end-to-end tier may take a while on a busy machine; it usually takes
# a few minutes once the tools are built.
E2E_TIMEOUT ?= 30m

# The pinned tools the end-to-end tier runs (golangci-lint is only lint's).
E2E_TOOLS = prometheus promtool alertmanager helm goreleaser redis_exporter

.PHONY: all build test e2e tools lint bench bench-quick soak docker release-check check-tree

all: build test

# The static binary, stamped with its version, exactly as the Dockerfile and
# CI build it.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$$(./scripts/ldflags.sh)" -o dcs_exporter .

# The fast tier: only Go, no external tool, a few minutes from cold.
test:
	go test ./...

# The pinned Prometheus, promtool, Alertmanager, Helm, golangci-lint and
# GoReleaser; each build says what it builds, and every 30 s that it still
# is. Up to date tools are not rebuilt.
tools:
	scripts/pinned-tools.sh "$(DCS_TOOLS_BIN)"

# The end-to-end tier: every test that runs Prometheus, promtool,
# Alertmanager, Helm (with tools/dashcheck's and tools/k8scheck's tests, run
# by deploy/check.sh), Chromium or GoReleaser. A missing tool fails; nothing
# is skipped.
e2e:
	scripts/pinned-tools.sh "$(DCS_TOOLS_BIN)" $(E2E_TOOLS)
	PATH="$(DCS_TOOLS_BIN):$$PATH" go test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/ ./statuspage/
	$(MAKE) release-check

# gofmt, go vet and the pinned golangci-lint (.golangci.yml), on the module
# and on tools/sdkcompat.
lint:
	scripts/pinned-tools.sh "$(DCS_TOOLS_BIN)" golangci-lint
	@unformatted=$$(git ls-files -z '*.go' | xargs -0 gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./e2e/ ./statuspage/
	"$(DCS_TOOLS_BIN)/golangci-lint" run --allow-serial-runners ./...
	"$(DCS_TOOLS_BIN)/golangci-lint" run --allow-serial-runners --build-tags e2e ./e2e/ ./statuspage/
	cd tools/sdkcompat && "$(DCS_TOOLS_BIN)/golangci-lint" run --allow-serial-runners ./...

# The benchmark suite: builds the exporter, compares it with its baselines on
# loopback and prints one table (about 4 minutes on 2 cores). BENCHMARKS.md
# explains the figures. The table is also written to bench/out/results.md.
# It ends with the full-length soak (about a minute more).
bench:
	go run ./bench/cmd/dcsbench -markdown bench/out/results.md
	$(MAKE) soak

# 64 clients for 60 s while the fake API rotates through its faults, under
# the race detector (go test ./... runs a 4 s form).
soak:
	DCS_SOAK_DURATION=60s go test -race -run '^TestSoak$$' -count=1 -timeout 10m -v .

# The same with short measurements, to try the suite out (noisier figures).
bench-quick:
	go run ./bench/cmd/dcsbench -quick -markdown bench/out/results-quick.md

# The image of the Dockerfile (needs a docker daemon).
docker:
	docker build -t dcs_exporter:dev .

# The GoReleaser snapshot for all six platforms, checked; publishes nothing.
release-check:
	scripts/pinned-tools.sh "$(DCS_TOOLS_BIN)" goreleaser
	PATH="$(DCS_TOOLS_BIN):$$PATH" scripts/release-check.sh

# No executable binary and no file over 1 MiB (but images under docs/) is
# tracked.
check-tree:
	scripts/check-tree.sh
