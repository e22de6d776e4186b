# Shortcuts; the commands themselves are in the README.

.PHONY: bench bench-quick

# The benchmark suite: builds the exporter, compares it with its baselines on
# loopback and prints one table (about 4 minutes on 2 cores). BENCHMARKS.md
# explains the figures. The table is also written to bench/out/results.md.
bench:
	go run ./bench/cmd/dcsbench -markdown bench/out/results.md

# The same with short measurements, to try the suite out (noisier figures).
bench-quick:
	go run ./bench/cmd/dcsbench -quick -markdown bench/out/results-quick.md
