package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// proc is a child process with an HTTP port: the exporter or a helper.
type proc struct {
	name    string
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	started time.Time
	logFile *os.File
	exited  chan struct{} // closed when the process has ended
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// startProc starts cmd, which must listen on addr, with its output in a log
// file named after it.
func (s *suite) startProc(name string, cmd *exec.Cmd, addr string) (*proc, error) {
	f, err := os.Create(filepath.Join(s.out, "logs", name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	p := &proc{name: name, cmd: cmd, base: "http://" + addr, logFile: f, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// startExporter runs the exporter with the config file and flags; cpu >= 0
// pins it.
func (s *suite) startExporter(name, config string, cpu int, flags ...string) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--config.file=" + config, "--web.listen-address=" + addr, "--log.level=warn"}, flags...)
	cmd := exec.Command(s.exporter, args...)
	if cpu >= 0 {
		cmd = pinned(cpu, s.exporter, args...)
	}
	return s.startProc(name, cmd, addr)
}

// stop ends the process and waits for it.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.logFile.Close()
}

var client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}, Timeout: 2 * time.Minute}

// get fetches path; with gzipped it asks for gzip, as Prometheus does, and
// returns the body unpacked (checking its CRC) and the size on the wire.
func (p *proc) get(path string, gzipped bool, header ...string) (body []byte, wire int, err error) {
	req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%s %s: HTTP %d: %.200s", p.name, path, resp.StatusCode, raw)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		if gzipped && len(raw) > 0 {
			return nil, 0, fmt.Errorf("%s %s: asked for gzip, got a plain answer", p.name, path)
		}
		return raw, len(raw), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", p.name, path, err)
	}
	body, err = io.ReadAll(zr)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: gunzip: %w", p.name, path, err)
	}
	return body, len(raw), nil
}

// waitReady polls /-/ready until it answers 200, every poll apart, and
// returns when it did.
func (p *proc) waitReady(timeout, poll time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.waitFor(ctx, "/-/ready", poll)
}

func (p *proc) waitFor(ctx context.Context, path string, poll time.Duration) (time.Time, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for {
		resp, err := c.Get(p.base + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-p.exited:
			return time.Time{}, fmt.Errorf("%s exited; see %s", p.name, p.logFile.Name())
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: %s not 200 in time; see %s", p.name, path, p.logFile.Name())
		case <-time.After(poll):
		}
	}
}

// cpuTime is the CPU time the process has used, user and system, from
// /proc (in clock ticks of 10 ms).
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may contain spaces; the fields
	// after it are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("odd /proc stat")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick, nil
}

// memory returns the resident set now and its peak, in bytes.
func (p *proc) memory() (rss, peak float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmRSS: %g kB", &kb); err == nil {
			rss = kb * 1024
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %g kB", &kb); err == nil {
			peak = kb * 1024
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, errors.New("no VmRSS/VmHWM in /proc status")
	}
	return rss, peak, nil
}

// seriesCount counts the samples of an exposition.
func seriesCount(text []byte) int {
	n := 0
	for _, line := range bytes.Split(text, []byte("\n")) {
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}

// promtoolCheck validates an exposition with promtool check metrics. It
// reports "not run" when promtool is not installed; lint warnings (which
// promtool prints but accepts) are not failures.
func promtoolCheck(text []byte) (string, bool) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		return "not run (no promtool)", true
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("promtool: %v: %.200s", err, out), false
	}
	return "valid (promtool)", true
}
