package dcsapi

import "sort"

// The fast path of DecodeStatus. encoding/json costs about 170 allocations
// per status answer (a RawMessage and a string per field, and reflection);
// this single pass over the body costs only the maps of the result.
//
// It is deliberately narrow: it accepts only what it can decode exactly as
// decodeStatusSlow would, and gives up (ok == false) on everything else, so
// that the slow decoder decides: any syntax error, a count that is not a
// plain non-negative integer, a null count, a key with an escape or a
// non-ASCII byte, a key seen twice, anything after the top-level object,
// and very deep nesting. Real answers never hit any of these.

// maxFastDepth is well below encoding/json's nesting limit, so that input
// near the limit always goes to the slow decoder.
const maxFastDepth = 1000

// stateHint sizes the count maps: an answer has 12 to 15 states, and a hint
// in that range lets a map take its table in one piece.
const stateHint = 14

// knownNames are the documented state and engine names, sorted, so that a
// report shares these strings instead of allocating its own.
var knownNames = func() []string {
	var all []string
	for _, list := range [][]string{statesV1, statesV2, enginesV1, enginesV2} {
		for _, s := range list {
			if !containsString(all, s) {
				all = append(all, s)
			}
		}
	}
	sort.Strings(all)
	return all
}()

// internName returns b as a string, a shared one when it is a known name. A
// binary search costs less than a map lookup here, and neither allocates.
func internName(b []byte) string {
	lo, hi := 0, len(knownNames)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch k := knownNames[m]; {
		case string(b) == k:
			return k
		case string(b) < k:
			hi = m
		default:
			lo = m + 1
		}
	}
	return string(b)
}

// jsonScanner walks a JSON document; every method reports false on input
// it does not accept.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c, after optional white space.
func (s *jsonScanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// key returns an object key followed by its colon. Only printable ASCII
// without escapes is accepted: encoding/json would unescape the others or
// replace invalid UTF-8, which this path does not repeat.
func (s *jsonScanner) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			k := s.b[start:s.i]
			s.i++
			return k, s.eat(':')
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// count reads a count: a plain non-negative integer that fits in int64.
func (s *jsonScanner) count() (int64, bool) {
	s.space()
	start := s.i
	var n int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := int64(s.b[s.i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false // out of range
		}
		n = n*10 + d
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 1 && s.b[start] == '0' {
		return 0, false // not a number, or a leading zero
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false // not an integer
		}
	}
	return n, true
}

// counts reads an object and returns its "*_count" members by state, as
// the body of an engine.
func (s *jsonScanner) counts() (map[string]int64, bool) {
	if !s.eat('{') {
		return nil, false
	}
	m := make(map[string]int64, stateHint)
	if s.eat('}') {
		return m, true
	}
	for {
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		handled, ok := s.countMember(m, k)
		if !ok || !handled && !s.skipValue(2) {
			return nil, false
		}
		if s.eat(',') {
			continue
		}
		return m, s.eat('}')
	}
}

// countMember reads the value of member k into m when k names a count, and
// says whether it did. ok is false for anything left to the slow path: a bad
// count, or a key seen twice (encoding/json lets the last one win).
func (s *jsonScanner) countMember(m map[string]int64, k []byte) (handled, ok bool) {
	state, isCount := countName(k)
	if !isCount {
		return false, true
	}
	n, ok := s.count()
	return true, ok && putNew(m, internName(state), n)
}

// putNew sets m[k] and reports whether k is new, with one map operation.
func putNew(m map[string]int64, k string, n int64) bool {
	before := len(m)
	m[k] = n
	return len(m) > before
}

// countName reports whether key names a count, and its state.
func countName(key []byte) ([]byte, bool) {
	n := len(key) - len(countSuffix)
	if n <= 0 || string(key[n:]) != countSuffix {
		return nil, false
	}
	return key[:n], true
}

// skipValue checks one JSON value of any kind and steps over it.
func (s *jsonScanner) skipValue(depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	switch s.peek() {
	case '{':
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if !s.eat('"') || !s.skipString() || !s.eat(':') || !s.skipValue(depth+1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skipValue(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case '"':
		s.i++
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.skipNumber()
}

func (s *jsonScanner) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// skipString steps over the rest of a string whose opening quote was
// consumed. Invalid UTF-8 is accepted, as encoding/json accepts it.
func (s *jsonScanner) skipString() bool {
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i >= len(s.b) {
				return false
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-s.i < 4 {
					return false
				}
				for _, h := range s.b[s.i : s.i+4] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber steps over a number as JSON's grammar spells it.
func (s *jsonScanner) skipNumber() bool {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *jsonScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// decodeStatusFast decodes an ordinary status answer, or reports false.
func decodeStatusFast(body []byte) (*StatusReport, bool) {
	s := jsonScanner{b: body}
	if !s.eat('{') {
		return nil, false
	}
	r := &StatusReport{Total: make(map[string]int64, stateHint), Engines: make(map[string]map[string]int64, 2)}
	if !s.eat('}') {
		for {
			k, ok := s.key()
			if !ok {
				return nil, false
			}
			handled, ok := s.countMember(r.Total, k)
			if !ok {
				return nil, false
			}
			if !handled {
				if _, dup := r.Engines[string(k)]; dup {
					return nil, false
				}
				if s.peek() == '{' {
					counts, ok := s.counts()
					if !ok {
						return nil, false
					}
					r.Engines[internName(k)] = counts
				} else if !s.skipValue(1) {
					return nil, false
				}
			}
			if s.eat(',') {
				continue
			}
			if !s.eat('}') {
				return nil, false
			}
			break
		}
	}
	s.space()
	return r, s.i == len(s.b)
}
