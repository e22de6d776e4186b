//go:build !race

package statuspage_test

const underRace = false
