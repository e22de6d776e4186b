package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is what one load run measured.
type loadResult struct {
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	Bytes    int64   `json:"bytes"` // on the wire, compressed or not
	Errors   int64   `json:"errors"`
}

func (r loadResult) rate() float64 { return float64(r.Requests) / r.Seconds }

// loadMain is the load generator: conns keep-alive connections each ask
// for url in a loop for the duration, read every answer to its end, and
// the totals are printed as JSON. It asks for gzip on request and never
// unpacks: like wrk, it measures the server, not its own decompression.
func loadMain(args []string) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "what to ask for")
	gzipped := fs.Bool("gzip", false, "send Accept-Encoding: gzip")
	conns := fs.Int("c", 4, "connections")
	d := fs.Duration("d", 3*time.Second, "duration")
	if err := fs.Parse(args); err != nil || *url == "" {
		return 2
	}
	r, err := generateLoad(*url, *gzipped, *conns, *d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func generateLoad(url string, gzipped bool, conns int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var requests, bytes, errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10) // big reads: answers are megabytes
			for time.Now().Before(deadline) {
				n, err := fetchOnce(c, url, gzipped, buf)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				requests.Add(1)
				bytes.Add(n)
			}
		}()
	}
	wg.Wait()
	r := loadResult{Requests: requests.Load(), Seconds: time.Since(start).Seconds(), Bytes: bytes.Load(), Errors: errs.Load()}
	if r.Errors > 0 {
		return r, fmt.Errorf("%d of %d requests failed, first: %v", r.Errors, r.Errors+r.Requests, firstErr.Load())
	}
	return r, nil
}

func fetchOnce(c *http.Client, url string, gzipped bool, buf []byte) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if gzipped != (resp.Header.Get("Content-Encoding") == "gzip") {
		return n, fmt.Errorf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	return n, nil
}

// staticMain is the baseline of figures 1 and 4: a minimal net/http server
// that serves fixed bytes on /metrics, the gzip ones to clients that accept
// them. It prints nothing; the suite waits for /-/ready.
func staticMain(args []string) int {
	fs := flag.NewFlagSet("static", flag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address")
	plainFile := fs.String("plain", "", "the plain answer")
	gzipFile := fs.String("gzip", "", "the gzip answer")
	if err := fs.Parse(args); err != nil || *plainFile == "" {
		return 2
	}
	plain, err := os.ReadFile(*plainFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "static:", err)
		return 1
	}
	var gz []byte
	if *gzipFile != "" {
		if gz, err = os.ReadFile(*gzipFile); err != nil {
			fmt.Fprintln(os.Stderr, "static:", err)
			return 1
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		body := plain
		if gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			body = gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Ready\n") })
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "static:", err)
		return 1
	}
	return 0
}
