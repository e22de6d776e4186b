// runbook.go finds the sections of the runbook and checks that links into
// it land on one.
package main

import (
	"fmt"
	"strings"
	"unicode"
)

// runbookPath is where the runbook lives in the repository; runbook URLs
// are https://github.com/dcs-exporter/dcs_exporter/blob/main/ + this.
const runbookPath = "deploy/runbook.md"

// runbookURL is the prefix of every alert's runbook_url.
const runbookURL = "https://github.com/dcs-exporter/dcs_exporter/blob/main/" + runbookPath

type heading struct {
	level  int
	text   string
	anchor string
}

// markdownHeadings returns the ATX headings outside code fences, with the
// anchors GitHub gives them: lower case, spaces to hyphens, punctuation
// other than hyphens and underscores dropped, -1, -2 ... for repeats.
func markdownHeadings(text string) []heading {
	var out []heading
	seen := map[string]int{}
	fenced := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		title := strings.TrimSpace(line[level:])
		if level > 6 || title == "" || !strings.HasPrefix(line[level:], " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		anchor := b.String()
		if n := seen[anchor]; n > 0 {
			seen[anchor] = n + 1
			anchor = fmt.Sprintf("%s-%d", anchor, n)
		} else {
			seen[anchor] = 1
		}
		out = append(out, heading{level: level, text: title, anchor: anchor})
	}
	return out
}

// runbook is what the checks need to know of the runbook.
type runbook struct {
	headings []heading
	anchors  map[string]bool
}

func parseRunbook(text string) *runbook {
	rb := &runbook{headings: markdownHeadings(text), anchors: map[string]bool{}}
	for _, h := range rb.headings {
		rb.anchors[h.anchor] = true
	}
	return rb
}

// checkRunbookLink checks that a link into the runbook names an existing
// section. Other links, and every link when no runbook was given, pass.
func checkRunbookLink(where, url string, rb *runbook) []error {
	if rb == nil || !strings.Contains(url, runbookPath) {
		return nil
	}
	_, anchor, found := strings.Cut(url, "#")
	if found && !rb.anchors[anchor] {
		return []error{fmt.Errorf("%s: the runbook has no section #%s", where, anchor)}
	}
	return nil
}
