//go:build race

package racedetector

// Enabled says whether the race detector is on.
const Enabled = true
