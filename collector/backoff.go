package collector

// This file keeps a target from spending API quota, or getting its access
// key locked, while the API refuses it: after refused credentials or
// throttling, its next calls wait, longer after each failure.

import (
	"errors"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// backoffState keeps a target from spending API quota, or getting its access
// key locked, while the API refuses it.
type backoffState struct {
	until time.Time
	step  int
}

// applyBackoff spaces out the next attempts after errors that repeating
// would make worse: refused credentials (the gateway locks an access key
// after repeated failures) and throttling (which honours Retry-After).
func (t *Target) applyBackoff(err error, now time.Time) {
	o := t.ex.opts
	var wait time.Duration
	switch {
	case dcsapi.IsAuthFailure(err):
		wait = o.AuthBackoff << t.backoff.step
		if wait > o.MaxAuthBackoff || wait <= 0 {
			wait = o.MaxAuthBackoff
		}
	case dcsapi.IsThrottled(err):
		wait = o.ThrottleBackoff << t.backoff.step
		if wait > o.MaxThrottleBackoff || wait <= 0 {
			wait = o.MaxThrottleBackoff
		}
		var apiErr *dcsapi.APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
			wait = apiErr.RetryAfter
		}
	default:
		t.backoff = backoffState{}
		return
	}
	if t.backoff.step < 16 {
		t.backoff.step++
	}
	t.backoff.until = now.Add(wait)
}
