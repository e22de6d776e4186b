package dcsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is an error answer (HTTP status 400 or above) from the DCS API,
// IAM or the API gateway in front of them.
type APIError struct {
	API        string // which call: instance_status, list_instances, iam_projects, metadata
	StatusCode int
	Code       string // error_code, e.g. APIGW.0308 or DCS.4800; empty if the body had none
	Message    string // error_msg, or a summary of at most 200 bytes of a non-JSON body
	RequestID  string // X-Request-Id header, or request_id from the body
	RetryAfter time.Duration
	Hint       string // what the user can do about it, when we know
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.API, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// gatewayCodeIs matches APIGW.NNNN and the older APIG.NNNN spelling.
func gatewayCodeIs(code, number string) bool {
	return code == "APIGW."+number || code == "APIG."+number
}

// IsThrottled reports whether err is the gateway's rate limit answer.
func IsThrottled(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.StatusCode == http.StatusTooManyRequests || gatewayCodeIs(e.Code, "0308"))
}

// IsAuthFailure reports whether err says the credentials were refused. Such
// calls must not be repeated quickly: the gateway locks an access key for
// five minutes after more than five failures in a row.
func IsAuthFailure(err error) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
		gatewayCodeIs(e.Code, "0301") || gatewayCodeIs(e.Code, "0303") || gatewayCodeIs(e.Code, "0307")
}

// IsNotFound reports whether the API or the path does not exist.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// retryable reports whether a failed call may be repeated: throttling, server
// errors and transport errors may pass; everything else will fail again.
func retryable(err error) bool {
	var e *APIError
	if errors.As(err, &e) {
		return IsThrottled(err) || (e.StatusCode >= 500 && !IsAuthFailure(err))
	}
	var d *DecodeError
	if errors.As(err, &d) || errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	var c *CredentialsError
	return !errors.As(err, &c)
}

// ErrResponseTooLarge is returned when a response body exceeds the limit; the
// rest of the body is never read.
var ErrResponseTooLarge = errors.New("response body exceeds the size limit")

// DecodeError says which field of a successful answer could not be used.
type DecodeError struct {
	API   string
	Field string // JSON path of the field, e.g. redis.running_count; empty for the whole body
	Err   error
	// RequestID is the answer's X-Request-Id, which support needs to trace a
	// bad answer. Error leaves it out, so that the same fault on every call
	// reads the same.
	RequestID string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: decoding response: %v", e.API, e.Err)
	}
	return fmt.Sprintf("%s: decoding response: field %s: %v", e.API, e.Field, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// CredentialsError says that credentials could not be obtained.
type CredentialsError struct {
	Source string
	Err    error
}

func (e *CredentialsError) Error() string { return "credentials (" + e.Source + "): " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// errorBody is the JSON error shape shared by DCS, IAM and the gateway. IAM
// nests its own inside "error" with code and message.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	Code      any    `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Error     *struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// newAPIError builds the error for a non-2xx answer from its status, headers
// and (already size-limited) body.
func newAPIError(api string, resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{API: api, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-IAM-Trace-Id")
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message = eb.ErrorCode, eb.ErrorMsg
		if e.Code == "" && eb.Code != nil {
			e.Code = codeString(eb.Code)
			e.Message = eb.Message
		}
		if e.Code == "" && eb.Error != nil {
			e.Code = codeString(eb.Error.Code)
			e.Message = eb.Error.Message
		}
		if e.RequestID == "" {
			e.RequestID = eb.RequestID
		}
		e.Message = truncateUTF8(e.Message, 1024)
	} else {
		e.Message = summarizeBody(body)
	}
	// The server's words end up in logs: keep them to one printable line.
	e.Message = printable(e.Message)
	e.Code = truncateUTF8(printable(e.Code), 32)
	e.RequestID = truncateUTF8(printable(e.RequestID), 128)
	return e
}

func codeString(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64)
	default:
		return ""
	}
}

// maxRetryAfter caps what a server can ask for.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads both forms of Retry-After: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && secs >= 0 {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, maxRetryAfter)
}

var (
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaces    = regexp.MustCompile(`\s+`)
)

// summarizeBody turns a non-JSON error body (typically a proxy's HTML page)
// into one printable line of at most 200 bytes.
func summarizeBody(body []byte) string {
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	text := body
	if m := htmlTitle.FindSubmatch(body); m != nil {
		text = m[1]
	} else if bytes.Contains(body, []byte("<")) {
		text = htmlTag.ReplaceAll(body, []byte(" "))
	}
	s := strings.TrimSpace(spaces.ReplaceAllString(strings.ToValidUTF8(string(text), ""), " "))
	return truncateUTF8(printable(s), 200)
}

// printable drops control characters, so that text from a server cannot
// forge log lines or terminal escapes.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
