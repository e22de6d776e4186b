#!/usr/bin/env bash
# stress-tests.sh runs the whole test suite three times under the race
# detector while two processes of its own keep two cores busy, to show that
# no test leans on timing luck. It fails when the tests fail. Arguments go
# to go test, before the package pattern (for example -skip or -v).
set -euo pipefail
cd "$(dirname "$0")/.."

burners=()
stop_burners() {
	# Only the processes started here, by their PIDs.
	for pid in "${burners[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM

for _ in 1 2; do
	# A subshell that spins: its PID is the burner itself, with no child.
	( while :; do :; done ) &
	burners+=("$!")
done

start=$(date +%s)
status=0
go test -race -count=3 "$@" ./... || status=$?
echo "stress-tests: go test -race -count=3 $* ./... beside ${#burners[@]} CPU burners: exit status $status after $(($(date +%s) - start)) s" >&2
exit "$status"
