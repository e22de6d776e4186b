// Package checks holds the exporter's one-shot commands for a first run:
// --config.check shows what the configuration resolves to without calling
// anything, and --dcs.check calls the API once per target and explains each
// failure with the same diagnosis the status page shows.
package checks

import "strings"

// oneLine keeps text from a server or the network from breaking the
// terminal layout.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
