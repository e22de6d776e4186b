// Package checks holds the exporter's one-shot commands for a first run:
// --config.check shows what the configuration resolves to without calling
// anything, and --dcs.check calls the API once per target and explains each
// failure with the same diagnosis the status page shows.
package checks

import (
	"fmt"
	"io"
	"strings"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// printer keeps the first write error, so that a report is written with
// plain calls and checked once at the end.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// oneLine keeps text from a server, the network or the configuration from
// breaking the terminal layout or driving the terminal: white space becomes
// a space, and escape sequences and other unprintable characters go.
func oneLine(s string) string {
	return redact.Printable(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s))
}
