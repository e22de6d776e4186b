// This file holds the typed errors, and reads error answers the way the SDK
// does.

package dcsapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// APIError is an error answer (HTTP status 400 or above) from the DCS API,
// IAM or the API gateway in front of them.
type APIError struct {
	API        string // which call: instance_status, list_instances, iam_projects, ...
	StatusCode int
	Code       string // e.g. APIGW.0308, DCS.4800, or IAM's 403; empty if the body had none
	Message    string // the body's message, or a summary of at most 200 bytes of it
	RequestID  string // X-Request-Id, request_id in the body, or X-IAM-Trace-Id
	RetryAfter time.Duration
	// ClockSkew is how far the API's clock (its Date header) was ahead of
	// the local clock when it refused a signature; negative when it was
	// behind. It is measured on 401 answers that carry a Date, and is 0
	// otherwise. Beyond ClockSkewLimit the local clock is to blame, which
	// package diagnosis tells the user: dcsapi's errors hold facts, and
	// the advice is written in one place.
	ClockSkew time.Duration
}

// ClockSkewLimit is how far the clocks may be apart before a refused
// signature is blamed on the local clock. The gateway refuses signature
// dates more than 15 minutes off its own clock (APIG FAQ, "signature
// expired"); a third of that is already a clock that needs fixing.
const ClockSkewLimit = 5 * time.Minute

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.API, e.StatusCode)
	if e.Code != "" && e.Code != strconv.Itoa(e.StatusCode) { // IAM's code is its status
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
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
	var r *RedirectError
	if errors.As(err, &d) || errors.As(err, &r) || errors.Is(err, ErrResponseTooLarge) {
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

// Error quotes the field cut to redact.MaxKey printable bytes: a key name
// comes from the answer, and may be a megabyte of terminal escapes.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: decoding response: %v", e.API, e.Err)
	}
	return fmt.Sprintf("%s: decoding response: field %s: %v", e.API, redact.Key(e.Field), e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// CallError is a call that got no usable answer: the connection failed, the
// answer was cut off or too large. It names the call, so that a caller
// which made several (a listing first looks up its project in IAM) can
// tell which one failed.
type CallError struct {
	API string
	Err error
}

func (e *CallError) Error() string { return e.API + ": " + e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// CredentialsError says that credentials could not be obtained.
type CredentialsError struct {
	Source string
	Err    error
}

func (e *CredentialsError) Error() string { return "credentials (" + e.Source + "): " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// newAPIError builds the error for a non-2xx answer from its status, headers
// and (already size-limited) body. secrets are cut out of the server's
// words before anything else is done with them: a gateway that echoes a
// security token back must not put it into logs.
func newAPIError(api string, resp *http.Response, body []byte, now time.Time, secrets ...string) *APIError {
	e := &APIError{API: api, StatusCode: resp.StatusCode}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	var bodyRequestID string
	if doc, ok := decodeJSONObject(body); ok {
		if e.Code, e.Message, ok = findErrorFields(doc, maxErrorNesting); !ok {
			e.Message = summarizeBody(body) // as the SDK does, which keeps the raw body
		}
		bodyRequestID = jsonText(doc["request_id"])
	} else {
		e.Message = summarizeBody(body)
	}
	e.RequestID = cmp.Or(resp.Header.Get("X-Request-Id"), bodyRequestID, resp.Header.Get("X-IAM-Trace-Id"))
	// The server's words end up in logs, pages and terminals: one printable
	// line, with the secrets (and any long enough piece of one: a gateway
	// may echo a token in part) cut out after the control characters that
	// could split them are gone.
	e.Message = redact.Text(e.Message, redact.MaxText, secrets...)
	e.Code = redact.Text(e.Code, 32, secrets...)
	e.RequestID = redact.Text(e.RequestID, redact.MaxID, secrets...)
	if resp.StatusCode == http.StatusUnauthorized {
		e.noteClockSkew(resp.Header.Get("Date"), now)
	}
	return e
}

// maxErrorNesting bounds the search for a code in nested objects.
const maxErrorNesting = 4

// decodeJSONObject reads body as one JSON object, keeping numbers exact.
func decodeJSONObject(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil || doc == nil {
		return nil, false
	}
	return doc, true
}

// findErrorFields finds the code and message of an error body as the SDK
// does (core/sdkerr/errors.go, processServiceResponseError): error_code
// with error_msg (DCS and the API gateway), else code with message, else
// the same inside a nested object, such as IAM's {"error": {"code": 403,
// "message": ..., "title": "Forbidden"}}. Unlike the SDK it takes numeric
// codes, and a pair with only one half; "error" is searched before other
// nested objects, and those in name order, so that one body always reads
// the same.
func findErrorFields(doc map[string]any, depth int) (code, message string, ok bool) {
	for _, pair := range [...][2]string{{"error_code", "error_msg"}, {"code", "message"}} {
		code, message = jsonText(doc[pair[0]]), jsonText(doc[pair[1]])
		if code != "" || message != "" {
			return code, message, true
		}
	}
	if depth == 0 {
		return "", "", false
	}
	if nested, isObject := doc["error"].(map[string]any); isObject {
		if code, message, ok = findErrorFields(nested, depth-1); ok {
			return code, message, true
		}
	}
	for _, key := range sortedKeys(doc) {
		if nested, isObject := doc[key].(map[string]any); isObject && key != "error" {
			if code, message, ok = findErrorFields(nested, depth-1); ok {
				return code, message, true
			}
		}
	}
	return "", "", false
}

// jsonText is a JSON string or number as text; anything else is "".
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// noteClockSkew measures how far the answer's Date is from the local clock.
func (e *APIError) noteClockSkew(date string, now time.Time) {
	serverTime, err := http.ParseTime(date)
	if err != nil || now.IsZero() {
		return
	}
	e.ClockSkew = serverTime.Sub(now).Round(time.Second) // Date has whole seconds
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
	return redact.Cut(redact.Printable(s), 200)
}

// shownError is an error whose text is made safe to show, with its cause
// kept for errors.Is and errors.As. Transport errors can quote what the
// server sent (net/http's "malformed HTTP response" does), which may echo
// a secret.
type shownError struct {
	err  error
	text string
}

func (e *shownError) Error() string { return e.text }
func (e *shownError) Unwrap() error { return e.err }

// shown wraps err so that its text is printable, without secrets and cut to
// redact.MaxText.
func shown(err error, secrets ...string) error {
	text := err.Error()
	if safe := redact.Text(text, redact.MaxText, secrets...); safe != text {
		return &shownError{err: err, text: safe}
	}
	return err
}
