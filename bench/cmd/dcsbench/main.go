// Command dcsbench is the exporter's benchmark suite: it builds the
// exporter, measures it next to its baselines on loopback, and prints one
// table (figure, measured, baseline, ratio, target, pass). BENCHMARKS.md
// explains the figures; `make bench` runs it from the repository root.
//
// It also has helper modes. The suite starts the first two as child
// processes, so that they can be pinned to a CPU of their own; the third is
// for trying the exporter by hand:
//
//	dcsbench static -plain FILE [-gzip FILE]   serve fixed bytes on /metrics
//	dcsbench load -url URL [-gzip]             a load generator
//	dcsbench fake [-targets N] [-latency D]    a fake DCS API with N projects
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "static":
			os.Exit(staticMain(os.Args[2:]))
		case "load":
			os.Exit(loadMain(os.Args[2:]))
		case "fake":
			os.Exit(fakeMain(os.Args[2:]))
		}
	}
	os.Exit(suiteMain(os.Args[1:]))
}

// suite is one run of the benchmark suite.
type suite struct {
	root     string // the repository
	out      string // bench/out: binaries, logs, answers
	exporter string // the exporter binary
	self     string // this program, for the helper modes
	quick    bool
	rows     []row
	log      io.Writer
}

func suiteMain(args []string) int {
	fs := flag.NewFlagSet("dcsbench", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository's root directory")
	exporter := fs.String("exporter", "", "use this exporter binary instead of building one")
	only := fs.String("figures", "1,2,3,4,5,6,7", "comma-separated figures to run")
	quick := fs.Bool("quick", false, "shorter measurements, for trying the suite out; the figures are noisier")
	markdown := fs.String("markdown", "", "also write the table as Markdown to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := &suite{root: *root, quick: *quick, log: os.Stderr}
	if err := s.setUp(*exporter); err != nil {
		fmt.Fprintln(os.Stderr, "dcsbench:", err)
		return 1
	}
	start, loadBefore := time.Now(), loadAverage()
	figures := map[string]func() error{
		"1": s.figure1, "2": s.figure2, "3": s.figure3, "4": s.figure4, "5": s.figure5, "6": s.figure6, "7": s.figure7,
	}
	failed := false
	for _, f := range strings.Split(*only, ",") {
		run, ok := figures[strings.TrimSpace(f)]
		if !ok {
			fmt.Fprintf(os.Stderr, "dcsbench: no figure %q\n", f)
			return 2
		}
		s.logf("== figure %s (%.0f s so far)", f, time.Since(start).Seconds())
		if err := run(); err != nil {
			// A figure that cannot be measured is a failed row, and the
			// others still run.
			s.add(row{figure: f, name: "could not be measured: " + err.Error(), pass: passNo})
			failed = true
		}
	}
	// Other work on the machine shows in every figure; say how much there was.
	conditions := fmt.Sprintf("%s; load average before %s, after %s; total %.0f s", machine(), loadBefore, loadAverage(), time.Since(start).Seconds())
	fmt.Println()
	printTable(os.Stdout, s.rows)
	fmt.Printf("\n%s\n", conditions)
	if *markdown != "" {
		if err := os.WriteFile(*markdown, []byte(markdownTable(s.rows)+"\n"+conditions+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "dcsbench:", err)
			return 1
		}
	}
	for _, r := range s.rows {
		failed = failed || r.pass == passNo
	}
	if failed {
		return 1
	}
	return 0
}

func (s *suite) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(s.log, "dcsbench: "+format+"\n", args...)
}

func (s *suite) add(r row) {
	s.rows = append(s.rows, r)
	s.logf("%s %s: %s (baseline %s, ratio %s, target %s) %s", r.figure, r.name, r.measured, r.baseline, r.ratio, r.target, r.pass)
}

// setUp finds the repository and builds the exporter.
func (s *suite) setUp(exporter string) error {
	root, err := filepath.Abs(s.root)
	if err != nil {
		return err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module github.com/dcs-exporter/dcs_exporter\n") {
		return errors.New("run from the repository's root, or set -root")
	}
	s.root, s.out = root, filepath.Join(root, "bench", "out")
	if err := os.MkdirAll(filepath.Join(s.out, "logs"), 0o755); err != nil {
		return err
	}
	if s.self, err = os.Executable(); err != nil {
		return err
	}
	if exporter != "" {
		s.exporter, err = filepath.Abs(exporter)
		return err
	}
	s.exporter = filepath.Join(s.out, "dcs_exporter")
	s.logf("building the exporter into %s", s.exporter)
	build := exec.Command("go", "build", "-trimpath", "-o", s.exporter, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	return build.Run()
}

// pinned prefixes a command with taskset, so that the server under test and
// the load generator each have a CPU of their own and do not take turns on
// one. Without taskset, or on one CPU, the command runs as it is.
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if runtime.NumCPU() >= 2 {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			return exec.Command(taskset, append([]string{"-c", fmt.Sprint(cpu), name}, args...)...)
		}
	}
	return exec.Command(name, args...)
}

// The CPUs of pinned processes: servers on one, their clients on the other.
const (
	serverCPU = 0
	clientCPU = 1
)

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// machine describes where the suite ran.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("machine: %d CPUs (%s)%s, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
