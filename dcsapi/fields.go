// This file holds what the fleet APIs (statistics, quota, nodes, backups)
// share: lenient field decoders that judge one value at a time, and the
// count of the values they had to leave out.

package dcsapi

import (
	"bytes"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
)

// FieldDrops counts, per field name, the values of an answer that could not
// be used and were left out, each costing only its own field. The caller
// logs them in one line per refresh rather than one per value: a cloud that
// sends "N/A" for every instance must not flood the log.
type FieldDrops map[string]int

func (d FieldDrops) add(field string) { d[field]++ }

// Total is the number of values left out.
func (d FieldDrops) Total() int {
	n := 0
	for _, v := range d {
		n += v
	}
	return n
}

// String lists the counts by field name, e.g. "input_kbps=2 used_cpu=1".
func (d FieldDrops) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(d[k]))
	}
	return b.String()
}

// fieldState says what a lenient field found: nothing (absent or null), a
// usable value, or a value it had to drop.
type fieldState uint8

const (
	fieldAbsent fieldState = iota
	fieldOK
	fieldBad
)

// note counts a dropped value under name.
func (s fieldState) note(d FieldDrops, name string) {
	if s == fieldBad {
		d.add(name)
	}
}

// decimalString is a number sent as a JSON string, as used_cpu, input_kbps
// and output_kbps are ("0.03"). It takes only plain decimal notation of a
// finite, non-negative number; "", "N/A", "1.2.3", "NaN", "Inf", hex
// floats, negative numbers and every other JSON type are dropped. The
// decoders parse at once and keep nothing of the input, so a large answer
// costs no copy of its text.
type decimalString struct {
	v  float64
	st fieldState
}

func (f *decimalString) UnmarshalJSON(b []byte) error {
	*f = decimalString{}
	if string(b) == "null" {
		return nil
	}
	f.st = fieldBad
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil
	}
	if v, ok := parseDecimal(b[1 : len(b)-1]); ok {
		f.v, f.st = v, fieldOK
	}
	return nil
}

// parseDecimal reads digits with an optional point and exponent. A leading
// minus is refused, "-0" too: none of these values can be below zero.
func parseDecimal(s []byte) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	digits := false
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits || s[0] == '-' || s[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	return v, true
}

// countValue is a non-negative integer sent as a JSON number, as keys and
// the memory sizes are. Fractions, exponents, negative numbers, numbers
// beyond int64 and other JSON types are dropped.
type countValue struct {
	v  int64
	st fieldState
}

func (f *countValue) UnmarshalJSON(b []byte) error {
	*f = countValue{}
	if string(b) == "null" {
		return nil
	}
	f.st = fieldBad
	if v, ok := parseNonNegativeInt(b); ok {
		f.v, f.st = v, fieldOK
	}
	return nil
}

func parseNonNegativeInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// textField is a JSON string; null is absent, and any other type is
// dropped.
type textField struct {
	v  string
	st fieldState
}

func (f *textField) UnmarshalJSON(b []byte) error {
	*f = textField{}
	switch {
	case string(b) == "null":
	case len(b) >= 2 && b[0] == '"':
		f.v, f.st = jsonString(b), fieldOK
	default:
		f.st = fieldBad
	}
	return nil
}

// flagField is a JSON boolean; null is absent, and any other type is
// dropped.
type flagField struct {
	v  bool
	st fieldState
}

func (f *flagField) UnmarshalJSON(b []byte) error {
	*f = flagField{}
	switch string(b) {
	case "null":
	case "true":
		f.v, f.st = true, fieldOK
	case "false":
		f.st = fieldOK
	default:
		f.st = fieldBad
	}
	return nil
}

// optionalStr is a string that the docs also show as {} or null when there
// is none (unit in the quota examples, error_code in the backup ones); those are "", not
// dropped. Other types are dropped.
type optionalStr struct {
	v  string
	st fieldState
}

func (f *optionalStr) UnmarshalJSON(b []byte) error {
	*f = optionalStr{}
	switch {
	case string(b) == "null", len(b) > 0 && b[0] == '{' && len(strings.TrimSpace(string(b[1:len(b)-1]))) == 0:
	case len(b) >= 2 && b[0] == '"':
		f.v, f.st = jsonString(b), fieldOK
	default:
		f.st = fieldBad
	}
	return nil
}

// shapeError names the field of an answer that is not of the documented
// shape: a body that is no JSON object, a list that is no list.
func shapeError(api string, body []byte) *DecodeError {
	if len(bytes.TrimSpace(body)) == 0 {
		return &DecodeError{API: api, Err: errEmptyBody}
	}
	return &DecodeError{API: api, Err: errNotObject}
}

var (
	errEmptyBody = errors.New("empty body")
	errNotObject = errors.New("body is not a JSON object")
	errMissing   = errors.New("missing")
)
