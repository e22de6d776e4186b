//go:build !race

package main

// underRace says whether the race detector is on. It slows the process
// several times over, so timing checks allow it some slack.
const underRace = false
