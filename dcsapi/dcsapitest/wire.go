package dcsapitest

// Requests as they cross the wire: a transport that keeps a copy of the
// bytes each request is sent as, and the JSON file those requests are kept
// in (dcsapi/testdata/client_requests.json, made by the exporter's client,
// and dcsapi/testdata/sdk_requests.json, made by the official SDK in
// tools/sdkcompat). The two sides meet only through these files.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

// WireRecorder is an HTTP transport that connects to one address whatever
// the host of the URL, so that requests can name the real endpoints and
// still reach a local fake, and keeps every request's bytes as written.
type WireRecorder struct {
	// Transport sends the requests; it keeps connections alive as usual.
	Transport *http.Transport

	mu     sync.Mutex
	conns  []*connLog
	writes int // writes so far on all connections, to order requests
}

// connLog is what was written on one connection, and how much of it
// Requests has returned already.
type connLog struct {
	written bytes.Buffer
	read    int
	writes  []connWrite
}

// connWrite is one write: its rank among all writes, and where it ended
// in the connection's bytes.
type connWrite struct{ seq, end int }

// NewWireRecorder returns a recorder whose transport dials addr
// (host:port).
func NewWireRecorder(addr string) *WireRecorder {
	w := &WireRecorder{}
	var d net.Dialer
	w.Transport = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			log := &connLog{}
			w.mu.Lock()
			w.conns = append(w.conns, log)
			w.mu.Unlock()
			return &teeConn{Conn: c, w: w, log: log}, nil
		},
	}
	return w
}

type teeConn struct {
	net.Conn
	w   *WireRecorder
	log *connLog
}

func (c *teeConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
	c.log.written.Write(b)
	c.w.writes++
	c.log.writes = append(c.log.writes, connWrite{seq: c.w.writes, end: c.log.written.Len()})
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

// Requests parses the requests written since the last call, in the order
// they were sent. It suits requests without a body, sent one at a time.
func (w *WireRecorder) Requests() ([]*http.Request, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	type sent struct {
		seq int
		r   *http.Request
	}
	var all []sent
	for i, log := range w.conns {
		data := slices.Clone(log.written.Bytes())
		for log.read < len(data) {
			start := log.read
			src := bytes.NewReader(data[start:])
			br := bufio.NewReader(src)
			r, err := http.ReadRequest(br)
			if err != nil {
				return nil, fmt.Errorf("connection %d: %w", i, err)
			}
			log.read = len(data) - src.Len() - br.Buffered()
			seq := 0
			for _, wr := range log.writes {
				if wr.end > start {
					seq = wr.seq
					break
				}
			}
			all = append(all, sent{seq, r})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	out := make([]*http.Request, len(all))
	for i, s := range all {
		out[i] = s.r
	}
	return out, nil
}

// Recordings is the content of a file of recorded requests.
type Recordings struct {
	Comment  string            `json:"comment"`
	Date     string            `json:"date"` // X-Sdk-Date of every request
	Requests []RecordedRequest `json:"requests"`
}

// RecordedRequest is one request as it was sent, with the key it was
// signed with (example keys only).
type RecordedRequest struct {
	Name      string   `json:"name"`
	AccessKey string   `json:"access_key"`
	SecretKey string   `json:"secret_key"`
	Method    string   `json:"method"`
	URL       string   `json:"url"`     // absolute, as the client addressed it
	Headers   []string `json:"headers"` // "Name: value"; Host first, then by name
}

// Record describes a request read off the wire; scheme is the one the
// client used, which the wire does not show.
func Record(name, scheme string, r *http.Request, accessKey, secretKey string) RecordedRequest {
	rec := RecordedRequest{
		Name: name, AccessKey: accessKey, SecretKey: secretKey, Method: r.Method,
		URL:     scheme + "://" + r.Host + r.RequestURI,
		Headers: []string{"Host: " + r.Host},
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			rec.Headers = append(rec.Headers, k+": "+v)
		}
	}
	return rec
}

// Header returns the recorded headers, Host included, and the host.
func (r RecordedRequest) Header() (http.Header, string, error) {
	h := http.Header{}
	host := ""
	for _, line := range r.Headers {
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, "", fmt.Errorf("%s: header line %q has no \": \"", r.Name, line)
		}
		if name == "Host" {
			host = value
		}
		h[name] = append(h[name], value)
	}
	return h, host, nil
}

// ReadRecordings loads a file written by WriteRecordings.
func ReadRecordings(path string) (*Recordings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Recordings
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Marshal renders the recordings as the file holds them: indented, with
// HTML characters left as they are, so that a change shows as a small diff.
func (r *Recordings) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
