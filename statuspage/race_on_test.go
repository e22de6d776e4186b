//go:build race

package statuspage_test

// underRace says whether the race detector is on; it slows rendering
// several times over.
const underRace = true
