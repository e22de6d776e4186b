// Package racedetector tells tests whether they run under the race
// detector, which slows a process several times over, so that timing checks
// can allow it some slack. Go has no such constant of its own, and a build
// tag can only select whole files.
package racedetector
