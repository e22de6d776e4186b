package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/bench/callbench"
)

// figure2 is the API client against the official SDK: the Go benchmark
// tools/sdkcompat BenchmarkStatusCallCompare, where a bare GET, dcsapi and
// the SDK take turns against one fake API, which runs in another process on
// the other CPU so that the benchmark's CPU time is the clients' alone.
// Also the decoder alone, against the encoding/json one it replaced.
func (s *suite) figure2() error {
	test := filepath.Join(s.out, "sdkcompat.test")
	s.logf("building the SDK benchmark (tools/sdkcompat)")
	build := exec.Command("go", "test", "-c", "-o", test, ".")
	build.Dir, build.Stdout, build.Stderr = filepath.Join(s.root, "tools", "sdkcompat"), os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}

	fake := pinned(serverCPU, s.self, "fake", "-status")
	stdout, err := fake.StdoutPipe()
	if err != nil {
		return err
	}
	fake.Stderr = os.Stderr
	if err := fake.Start(); err != nil {
		return err
	}
	defer func() { _ = fake.Process.Kill(); _ = fake.Wait() }()
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("fake API: %w", err)
	}

	rounds, count := "60x", "3"
	if s.quick {
		rounds, count = "10x", "1"
	}
	bench := pinned(clientCPU, test, "-test.run", "^$", "-test.bench", "^BenchmarkStatusCallCompare$", "-test.benchtime", rounds, "-test.count", count)
	bench.Dir = filepath.Join(s.root, "tools", "sdkcompat")
	bench.Env = append(os.Environ(), callbench.URLEnv+"="+strings.TrimSpace(url))
	bench.Stderr = os.Stderr
	out, err := bench.Output()
	if err != nil {
		return fmt.Errorf("SDK benchmark: %w\n%s", err, out)
	}
	rs := benchRuns(out, "BenchmarkStatusCallCompare")
	for _, k := range []string{"bare", "dcsapi", "dcsapi_changing", "sdk"} {
		if !rs.has(k+"-cpu-ns/op") || !rs.has(k+"-allocs/op") {
			return fmt.Errorf("the SDK benchmark printed no figures for %s:\n%s", k, out)
		}
	}
	us := func(k string) string { return fmtMicros(rs.median(k+"-cpu-ns/op") / 1e9) }
	allocs := func(k string) string { return fmt.Sprintf("%.0f", rs.median(k+"-allocs/op")) }
	cpuRatio := func(a, b string) float64 { return rs.medianRatio(a+"-cpu-ns/op", b+"-cpu-ns/op") }
	allocRatio := func(a, b string) float64 { return rs.medianRatio(a+"-allocs/op", b+"-allocs/op") }
	ratio := func(v float64) string { return fmt.Sprintf("%.2f", v) }

	r := cpuRatio("dcsapi", "bare")
	s.add(row{figure: "2", name: "status call CPU: dcsapi vs bare GET", measured: us("dcsapi"), baseline: us("bare"), ratio: ratio(r), target: "<= 1.15", pass: passIf(r <= 1.15)})
	s.add(row{figure: "2", name: "status call CPU: dcsapi vs SDK", measured: us("dcsapi"), baseline: us("sdk"), ratio: ratio(cpuRatio("dcsapi", "sdk")), target: "-", pass: passNone})
	s.add(row{figure: "2", name: "status call CPU: bare GET vs SDK (for scale)", measured: us("bare"), baseline: us("sdk"), ratio: ratio(cpuRatio("bare", "sdk")), target: "-", pass: passNone})
	r = allocRatio("dcsapi", "sdk")
	s.add(row{figure: "2", name: "status call allocations: dcsapi vs SDK", measured: allocs("dcsapi"), baseline: allocs("sdk"), ratio: ratio(r), target: "<= 0.33", pass: passIf(r <= 1.0/3)})
	s.add(row{figure: "2", name: "status call allocations: bare GET (the floor)", measured: allocs("bare"), baseline: "-", ratio: "-", target: "-", pass: passNone})
	s.add(row{figure: "2", name: "status call CPU, answer changed every call: dcsapi vs bare", measured: us("dcsapi_changing"), baseline: us("bare"),
		ratio: ratio(cpuRatio("dcsapi_changing", "bare")), target: "-", pass: passNone})
	r = allocRatio("dcsapi_changing", "sdk")
	s.add(row{figure: "2", name: "status call allocations, answer changed every call: dcsapi vs SDK", measured: allocs("dcsapi_changing"), baseline: allocs("sdk"),
		ratio: ratio(r), target: "<= 0.33", pass: passIf(r <= 1.0/3)})
	return s.decoderFigures()
}

// decoderFigures runs dcsapi's micro benchmarks of the status decoder and
// the signer.
func (s *suite) decoderFigures() error {
	benchtime := "1s"
	if s.quick {
		benchtime = "200ms"
	}
	test := filepath.Join(s.out, "dcsapi.test")
	build := exec.Command("go", "test", "-c", "-o", test, "./dcsapi/")
	build.Dir, build.Stdout, build.Stderr = s.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	cmd := pinned(clientCPU, test, "-test.run", "^$", "-test.bench", "^(BenchmarkDecodeStatus|BenchmarkSign)$",
		"-test.benchmem", "-test.benchtime", benchtime, "-test.count", "3")
	cmd.Dir, cmd.Stderr = filepath.Join(s.root, "dcsapi"), os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("dcsapi benchmarks: %w\n%s", err, out)
	}
	s.logf("dcsapi micro benchmarks took %.0f s", time.Since(start).Seconds())
	// The one-pass decoder and its encoding/json twin are gone (issue 10):
	// the decoder's own figures remain, with nothing to compare them to.
	decode, sign := benchRuns(out, "BenchmarkDecodeStatus"), benchRuns(out, "BenchmarkSign")
	if len(decode) == 0 || len(sign) == 0 {
		return fmt.Errorf("dcsapi benchmarks printed too little:\n%s", out)
	}
	s.add(row{figure: "2", name: "DecodeStatus (documented answer): time, allocations", measured: fmt.Sprintf("%s, %.0f", fmtMicros(decode.median("ns/op")/1e9), decode.median("allocs/op")),
		baseline: "-", ratio: "-", target: "-", pass: passNone})
	s.add(row{figure: "2", name: "Sign: time, allocations (4 of them the benchmark's header map)", measured: fmt.Sprintf("%s, %.0f", fmtMicros(sign.median("ns/op")/1e9), sign.median("allocs/op")),
		baseline: "-", ratio: "-", target: "-", pass: passNone})
	return nil
}

// benchRuns parses go test output: the metrics of each line of the named
// benchmark (name without the -N suffix), one map per run.
func benchRuns(out []byte, name string) runs {
	var rs runs
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		bench := f[0]
		if i := strings.LastIndexByte(bench, '-'); i > 0 {
			if _, err := strconv.Atoi(bench[i+1:]); err == nil {
				bench = bench[:i]
			}
		}
		if bench != name {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		rs = append(rs, m)
	}
	return rs
}

// runs are the repeated runs of one benchmark.
type runs []map[string]float64

// median is the median of a metric over the runs.
func (rs runs) median(metric string) float64 {
	var vs []float64
	for _, m := range rs {
		if v, ok := m[metric]; ok {
			vs = append(vs, v)
		}
	}
	return median(vs)
}

// medianRatio is the median over the runs of a/b: each run's ratio is taken
// within the run, where both saw the same machine.
func (rs runs) medianRatio(a, b string) float64 {
	var vs []float64
	for _, m := range rs {
		if m[b] != 0 {
			vs = append(vs, m[a]/m[b])
		}
	}
	return median(vs)
}

func (rs runs) has(metric string) bool {
	for _, m := range rs {
		if _, ok := m[metric]; ok {
			return true
		}
	}
	return false
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	if len(vs)%2 == 0 {
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return vs[len(vs)/2]
}
