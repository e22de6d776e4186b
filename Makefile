# Shortcuts; the commands themselves are in the README.

.PHONY: bench bench-quick soak

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
