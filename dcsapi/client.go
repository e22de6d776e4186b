// This file makes the calls: the Client and its options, signed GETs with
// retries within the caller's deadline, and capped reading of the answers.

package dcsapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// The API names used in errors and in request counts.
const (
	APIInstanceStatus  = "instance_status"
	APIListInstances   = "list_instances"
	APIIAMProjects     = "iam_projects"      // GET /v3/projects?name=REGION
	APIIAMAuthProjects = "iam_auth_projects" // GET /v3/auth/projects, when the first is refused
	APIMetadata        = "metadata"
)

// DefaultMaxBodyBytes bounds every response body; a longer one is an error
// and is never read further.
const DefaultMaxBodyBytes = 8 << 20

// RetryPolicy says how often and how patiently a call is repeated after
// throttling, a server error or a transport error. Every wait stays within
// the caller's deadline.
type RetryPolicy struct {
	MaxAttempts int           // 1 means no retry
	BaseDelay   time.Duration // first wait; doubles each time, with jitter
	MaxDelay    time.Duration // longest wait between attempts
}

// DefaultRetryPolicy retries twice, after about 0.2 s and 0.4 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}

// Options configure a Client. Endpoint and Credentials are required, and
// either ProjectID or both IAMEndpoint and Region. The endpoints are taken
// as given, as config normalises them when it loads them: without a
// trailing slash or API version.
type Options struct {
	Endpoint    string // e.g. https://dcs.cn-north-4.myhuaweicloud.com
	IAMEndpoint string // e.g. https://iam.cn-north-4.myhuaweicloud.com
	Region      string // the project name looked up in IAM when ProjectID is empty
	ProjectID   string
	APIVersion  APIVersion // V2 when empty
	Credentials CredentialProvider
	HTTPClient  *http.Client // http.DefaultTransport when nil; redirects are never followed
	UserAgent   string
	Retry       *RetryPolicy // DefaultRetryPolicy when nil
	// OnRequest, when set, is told of every HTTP attempt, with the API name
	// and the HTTP status code, or "error" when there was no answer.
	OnRequest    func(api, code string)
	MaxBodyBytes int64            // DefaultMaxBodyBytes when 0
	Now          func() time.Time // time.Now when nil; for tests
}

// Client calls the DCS API of one project. It is safe for concurrent use.
type Client struct {
	opts     Options
	endpoint *url.URL
	iam      *url.URL

	projectMu sync.Mutex // held during a lookup, so that only one runs
	projectID atomic.Pointer[string]

	lastStatus statusMemo // the last status answer, reused while it repeats
}

// New checks the options and returns a client.
func New(opts Options) (*Client, error) {
	if opts.Credentials == nil {
		return nil, errors.New("dcsapi: no credentials")
	}
	endpoint, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("dcsapi: endpoint: %w", err)
	}
	c := &Client{opts: opts, endpoint: endpoint}
	if opts.ProjectID != "" {
		c.projectID.Store(&opts.ProjectID)
	}
	if opts.ProjectID == "" {
		if opts.Region == "" {
			return nil, errors.New("dcsapi: a region is needed to look up the project id")
		}
		if c.iam, err = parseEndpoint(opts.IAMEndpoint); err != nil {
			return nil, fmt.Errorf("dcsapi: iam endpoint: %w", err)
		}
	}
	switch opts.APIVersion {
	case "":
		c.opts.APIVersion = V2
	case V1, V2:
	default:
		return nil, fmt.Errorf("dcsapi: unknown API version %q", opts.APIVersion)
	}
	c.opts.HTTPClient = withoutRedirects(c.opts.HTTPClient)
	if c.opts.Retry == nil {
		c.opts.Retry = &DefaultRetryPolicy
	}
	if c.opts.MaxBodyBytes <= 0 {
		c.opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c, nil
}

// parseEndpoint never quotes what it cannot parse, nor the parser's
// complaint, which can hold part of a password; a URL it can is shown
// through redact.URLOf.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a valid URL (not shown, since it may hold a password)")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", redact.URLOf(u))
	}
	return u, nil
}

// InstanceStatus returns the number of instances in each state, per engine
// and over all engines. The report is shared, with the caller of the
// previous call too when the answer did not change, and must not be
// modified.
func (c *Client) InstanceStatus(ctx context.Context, includeFailure bool) (*StatusReport, error) {
	pid, err := c.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	prefix := "/v2/"
	if c.opts.APIVersion == V1 {
		prefix = "/v1.0/"
	}
	query := "include_failure=false" // constants: no allocation per call
	if includeFailure {
		query = "include_failure=true"
	}
	var report *StatusReport
	err = c.call(ctx, APIInstanceStatus, c.endpoint, prefix+pid+"/instances/status", query, pid, func(body []byte) error {
		var derr error
		report, derr = c.lastStatus.decode(body)
		return derr
	})
	return report, err
}

// CloseIdleConnections closes the kept-alive connections the client is not
// using; they would otherwise stay open until they time out.
func (c *Client) CloseIdleConnections() { c.opts.HTTPClient.CloseIdleConnections() }

// CachedProjectID returns the configured or already discovered project id,
// without making a call.
func (c *Client) CachedProjectID() (string, bool) {
	if p := c.projectID.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// call sends one signed GET, with retries, and hands a 2xx body to decode.
func (c *Client) call(ctx context.Context, api string, base *url.URL, path, rawQuery, projectID string, decode func([]byte) error) error {
	policy := c.opts.Retry
	var err, previous error
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		retryAfter, err = c.attempt(ctx, api, base, path, rawQuery, projectID, decode)
		if err != nil && previous != nil && ctx.Err() != nil {
			// A retry cut short by the deadline: what the API said before
			// explains the failure, and keeps it the same from call to call.
			return previous
		}
		if err == nil || attempt >= policy.MaxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		previous = err
		wait := backoff(policy, attempt)
		if retryAfter > wait {
			wait = retryAfter
		}
		deadline, hasDeadline := ctx.Deadline()
		if hasDeadline && time.Until(deadline) < wait || !hasDeadline && wait > policy.MaxDelay {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is exponential with "equal jitter": between half and all of the
// doubled delay, so that many targets throttled together spread out.
func backoff(p *RetryPolicy, attempt int) time.Duration {
	d := p.BaseDelay << (attempt - 1)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *Client) attempt(ctx context.Context, api string, base *url.URL, path, rawQuery, projectID string, decode func([]byte) error) (time.Duration, error) {
	creds, err := c.opts.Credentials.Credentials(ctx)
	if err != nil {
		return 0, err
	}
	u := *base
	u.Path = base.Path + path
	u.RawQuery = rawQuery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	// One array backs the four header values: one allocation, not four.
	values := make([]string, 4)
	values[0], values[1], values[2], values[3] = u.Host, projectID, "application/json", c.opts.UserAgent
	req.Header["Host"] = values[0:1:1]
	if projectID != "" {
		req.Header[headerProjectID] = values[1:2:2]
	}
	if err := Sign(req, nil, creds, c.opts.Now()); err != nil {
		return 0, err
	}
	// Set after signing so that proxies which rewrite them cannot break the
	// signature.
	req.Header["Accept"] = values[2:3:3]
	if c.opts.UserAgent != "" {
		req.Header["User-Agent"] = values[3:4:4]
	}

	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		c.count(api, "error")
		return 0, &CallError{API: api, Err: shown(scrubURLError(err), creds.SecretKey, creds.SecurityToken)}
	}
	defer resp.Body.Close()
	c.count(api, statusCode(resp.StatusCode))
	if isRedirect(resp.StatusCode) {
		return 0, newRedirectError(api, resp, creds.SecretKey, creds.SecurityToken)
	}

	limit := c.opts.MaxBodyBytes
	if resp.StatusCode >= 400 {
		limit = min(limit, maxErrorBodyBytes)
	} else if resp.ContentLength > limit {
		return 0, &CallError{API: api, Err: fmt.Errorf("%w (%d bytes announced, limit %d)", ErrResponseTooLarge, resp.ContentLength, limit)}
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // keep only buffers of ordinary answers
			bodyBuffers.Put(buf)
		}
	}()
	err = readCapped(buf, resp.Body, limit, resp.ContentLength)
	if resp.StatusCode >= 400 && (err == nil || errors.Is(err, ErrResponseTooLarge)) {
		// An error page is worth its first part even when it goes on.
		apiErr := newAPIError(api, resp, buf.Bytes(), c.opts.Now(), creds.SecretKey, creds.SecurityToken)
		return apiErr.RetryAfter, apiErr
	}
	if errors.Is(err, ErrResponseTooLarge) {
		return 0, &CallError{API: api, Err: fmt.Errorf("%w (%d bytes)", ErrResponseTooLarge, limit)}
	}
	if err != nil {
		return 0, &CallError{API: api, Err: fmt.Errorf("reading response: %w", shown(scrubURLError(err), creds.SecretKey, creds.SecurityToken))}
	}
	body := buf.Bytes()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, &APIError{API: api, StatusCode: resp.StatusCode, Message: "unexpected status",
			RequestID: redact.Text(resp.Header.Get("X-Request-Id"), redact.MaxID, creds.SecretKey, creds.SecurityToken)}
	}
	if err := decode(body); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.API = api
			de.RequestID = redact.Text(resp.Header.Get("X-Request-Id"), redact.MaxID, creds.SecretKey, creds.SecurityToken)
		}
		return 0, err
	}
	return 0, nil
}

// maxErrorBodyBytes bounds what is read of an error answer: its code and
// message come first, and a proxy's page says no more past this.
const maxErrorBodyBytes = 64 << 10

// readCapped reads r into buf until EOF, but keeps at most limit bytes: a
// longer body fails with ErrResponseTooLarge after limit+1 bytes, and buf
// then holds its first limit bytes. It is the one reader of every response
// body, DCS, IAM and metadata alike. buf grows to the announced size at
// once when there is one, and otherwise doubles but jumps straight to the
// cap where one more doubling would pass it: an answer that is too long
// then costs 2 times the limit in allocations instead of 4, and a 256 MiB
// one no more than a 9 MiB one.
func readCapped(buf *bytes.Buffer, r io.Reader, limit, announced int64) error {
	capacity := limit + 1 // the extra byte tells a body of exactly limit from a longer one
	if announced >= 0 && announced < capacity {
		buf.Grow(int(announced) + 1) // the extra byte lets the read see EOF without growing
	}
	for int64(buf.Len()) < capacity {
		if buf.Available() == 0 {
			room := capacity - int64(buf.Len())
			grow := max(int64(buf.Cap()), 4<<10)
			if room-grow < grow {
				grow = room
			}
			buf.Grow(int(grow))
		}
		free := buf.AvailableBuffer()[:min(int64(buf.Available()), capacity-int64(buf.Len()))]
		n, err := r.Read(free)
		buf.Write(free[:n]) // free is buf's own spare room: this only extends it
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	buf.Truncate(int(limit))
	return ErrResponseTooLarge
}

func (c *Client) count(api, code string) {
	if c.opts.OnRequest != nil {
		c.opts.OnRequest(api, code)
	}
}

var statusCodes = func() (m [600]string) {
	for i := range m {
		m[i] = strconv.Itoa(i)
	}
	return m
}()

func statusCode(code int) string {
	if code >= 0 && code < len(statusCodes) {
		return statusCodes[code]
	}
	return strconv.Itoa(code)
}

// scrubURLError drops the URL from transport errors: it repeats what the log
// line already says, and a proxy URL could carry a password.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// withoutRedirects returns a copy of client (or of a default client, for
// nil) that never follows a redirect but hands the 3xx answer back, as the
// SDK's client does (SDK v0.1.207: AllowRedirects, false by default in
// core/config/http_config.go, makes core/impl/default_http_client.go set
// such a CheckRedirect). A redirect followed would carry the
// signed request, its X-Security-Token and X-Project-Id to whatever host the
// Location names, over plain http too, and the answer from there would be
// taken for the API's.
func withoutRedirects(client *http.Client) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client // a copy of the settings; the transport, and with it the connections, stays shared
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func isRedirect(status int) bool { return status >= 300 && status <= 399 }

// RedirectError is a 3xx answer, which the client never follows. Location
// holds only the host the answer pointed to: its path and query can carry
// a token, and its user part a password.
type RedirectError struct {
	API        string
	StatusCode int
	Location   string // host[:port] of the Location header; "" when it had none
	RequestID  string
}

func (e *RedirectError) Error() string {
	to := "without a Location"
	if e.Location != "" {
		to = "to host " + e.Location
	}
	return fmt.Sprintf("%s: HTTP %d redirect %s, not followed", e.API, e.StatusCode, to)
}

func newRedirectError(api string, resp *http.Response, secrets ...string) *RedirectError {
	e := &RedirectError{API: api, StatusCode: resp.StatusCode, RequestID: redact.Text(resp.Header.Get("X-Request-Id"), redact.MaxID, secrets...)}
	if loc := resp.Header.Get("Location"); loc != "" {
		e.Location = cmp.Or(redact.Text(redact.Host(loc), 255, secrets...), "(the same host)")
	}
	return e
}

// maxCAFileBytes bounds tls.ca_file; the system's whole bundle is ~220 KiB.
const maxCAFileBytes = 4 << 20

// TransportOptions describe how to reach an endpoint.
type TransportOptions struct {
	ProxyURL           *url.URL // HTTPS_PROXY/NO_PROXY from the environment when nil
	CAFile             string
	InsecureSkipVerify bool
}

// NewHTTPClient returns a client whose connections are kept and reused, which
// matters with TLS to a cloud endpoint on every scrape.
func NewHTTPClient(o TransportOptions) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user asks for it explicitly
	if o.CAFile != "" {
		// Bounded like a credential file, but roomier: a CA bundle is
		// larger than a key, yet never a device or a megabytes-long file.
		if info, err := os.Stat(o.CAFile); err == nil && (!info.Mode().IsRegular() || info.Size() > maxCAFileBytes) {
			return nil, fmt.Errorf("CA file %s must be a regular file of at most %d KiB", o.CAFile, maxCAFileBytes>>10)
		}
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", o.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	proxy := http.ProxyFromEnvironment
	if o.ProxyURL != nil {
		proxy = http.ProxyURL(o.ProxyURL)
	}
	transport := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return withoutRedirects(&http.Client{Transport: transport}), nil
}
