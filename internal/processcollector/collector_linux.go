package processcollector

// This file reads the process metrics from Linux's /proc, keeping open what
// can be read again.

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// New returns a collector of client_golang's process_* metrics, with the
// same names, help and values. Here the limits come from getrlimit, the
// start time is read once, /proc/self/stat and /proc/self/fd stay open and
// are read again from the start (a /proc file is generated afresh on every
// read, and this saves two system calls each), and the network counters,
// totals of the network namespace rather than of the process, are read at
// most once a second.
func New() prometheus.Collector {
	c := &processCollector{
		cpu:       prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil),
		openFDs:   prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil),
		maxFDs:    prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil),
		vsize:     prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil),
		maxVsize:  prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil),
		rss:       prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil),
		startTime: prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil),
		inBytes:   prometheus.NewDesc("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", nil, nil),
		outBytes:  prometheus.NewDesc("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", nil, nil),
		buf:       make([]byte, 8<<10),
		pageSize:  float64(os.Getpagesize()),
		statFD:    -1,
		dirFD:     -1,
	}
	c.start, c.startOK = processStartTime(c.buf)
	// Kept open for the life of the process, like the collector.
	if fd, err := syscall.Open("/proc/self/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err == nil {
		c.statFD = fd
	}
	if fd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err == nil {
		c.dirFD = fd
	}
	return c
}

// userHZ is the unit of the times in /proc/self/stat; 100 on Linux.
const userHZ = 100

// netstatMaxAge is how long the network counters are reused.
const netstatMaxAge = time.Second

type processCollector struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, startTime, inBytes, outBytes *prometheus.Desc

	pageSize float64
	start    float64
	startOK  bool

	mu        sync.Mutex // guards what follows: scrapes may collect at once
	statFD    int        // /proc/self/stat, or -1
	dirFD     int        // /proc/self/fd, or -1
	buf       []byte
	netRead   time.Time
	netIn     float64
	netOut    float64
	netOK     bool
	direntBuf [4096]byte
}

func (c *processCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.openFDs, c.maxFDs, c.vsize, c.maxVsize, c.rss, c.startTime, c.inBytes, c.outBytes} {
		ch <- d
	}
}

func (c *processCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := statFields(c.readStat()); ok {
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, (f.utime+f.stime)/userHZ)
		ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, f.vsize)
		ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, f.rss*c.pageSize)
	}
	if c.startOK {
		ch <- prometheus.MustNewConstMetric(c.startTime, prometheus.GaugeValue, c.start)
	}
	if n, ok := c.countFDs(); ok {
		ch <- prometheus.MustNewConstMetric(c.openFDs, prometheus.GaugeValue, n)
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxFDs, prometheus.GaugeValue, float64(lim.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxVsize, prometheus.GaugeValue, float64(lim.Cur))
	}
	if now := time.Now(); now.Sub(c.netRead) >= netstatMaxAge {
		c.netRead = now
		c.netIn, c.netOut, c.netOK = ipExtOctets(readFile("/proc/self/net/netstat", c.buf))
	}
	if c.netOK {
		ch <- prometheus.MustNewConstMetric(c.inBytes, prometheus.CounterValue, c.netIn)
		ch <- prometheus.MustNewConstMetric(c.outBytes, prometheus.CounterValue, c.netOut)
	}
}

// readStat reads /proc/self/stat through the open descriptor, or opens it
// anew if that failed at the start.
func (c *processCollector) readStat() []byte {
	if c.statFD < 0 {
		return readFile("/proc/self/stat", c.buf)
	}
	for {
		n, err := syscall.Pread(c.statFD, c.buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == len(c.buf) {
			return nil
		}
		return c.buf[:n]
	}
}

// readFile reads a small file into buf, growing it when needed, and returns
// nil on error.
func readFile(path string, buf []byte) []byte {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer func() { _ = syscall.Close(fd) }()
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil
		}
		if m == 0 {
			return buf[:n]
		}
		n += m
	}
	return nil // larger than buf: not a file this collector knows
}

type procStat struct{ utime, stime, starttime, vsize, rss float64 }

// statFields parses the fields of /proc/self/stat after the command name,
// which is in parentheses and may hold spaces.
func statFields(b []byte) (procStat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state) of proc(5); utime is field 14.
	if len(f) < 22 {
		return procStat{}, false
	}
	var s procStat
	for _, p := range []struct {
		dst   *float64
		field int
	}{{&s.utime, 14}, {&s.stime, 15}, {&s.starttime, 22}, {&s.vsize, 23}, {&s.rss, 24}} {
		v, err := strconv.ParseInt(string(f[p.field-3]), 10, 64)
		if err != nil {
			return procStat{}, false
		}
		*p.dst = float64(v)
	}
	return s, true
}

// processStartTime is the boot time from /proc/stat plus the process's
// start from /proc/self/stat, as client_golang computes it.
func processStartTime(buf []byte) (float64, bool) {
	stat, ok := statFields(readFile("/proc/self/stat", buf))
	if !ok {
		return 0, false
	}
	for _, line := range bytes.Split(readFile("/proc/stat", buf), []byte("\n")) {
		if v, found := bytes.CutPrefix(line, []byte("btime ")); found {
			boot, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return float64(boot) + stat.starttime/userHZ, err == nil
		}
	}
	return 0, false
}

// countFDs counts the entries of /proc/self/fd without building their
// names, through the open descriptor rewound to the start.
func (c *processCollector) countFDs() (float64, bool) {
	fd := c.dirFD
	own := 1 // the descriptor the count reads through
	if c.statFD >= 0 {
		own++
	}
	if fd < 0 {
		var err error
		if fd, err = syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err != nil {
			return 0, false
		}
		defer func() { _ = syscall.Close(fd) }()
	} else if _, err := syscall.Seek(fd, 0, 0); err != nil {
		return 0, false
	}
	n := 0
	for {
		m, err := syscall.ReadDirent(fd, c.direntBuf[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, false
		}
		if m == 0 {
			break
		}
		// linux_dirent64: inode (8), offset (8), record length (2), type
		// (1), then the name.
		for off := 0; off+19 < m; {
			reclen := int(c.direntBuf[off+16]) | int(c.direntBuf[off+17])<<8
			if reclen == 0 {
				return 0, false
			}
			if !isDotEntry(c.direntBuf[off+19:]) {
				n++
			}
			off += reclen
		}
	}
	// client_golang counts the directory descriptor it reads through, so
	// one of the collector's own stays in the count.
	return float64(n - own + 1), true
}

// isDotEntry reports whether a NUL-terminated directory entry name is "."
// or "..".
func isDotEntry(name []byte) bool {
	return name[0] == '.' && (name[1] == 0 || name[1] == '.' && name[2] == 0)
}

// ipExtOctets finds InOctets and OutOctets in the IpExt lines of
// /proc/self/net/netstat: a line of names, then a line of values.
func ipExtOctets(b []byte) (in, out float64, ok bool) {
	lines := bytes.Split(b, []byte("\n"))
	for i := 0; i+1 < len(lines); i++ {
		names, found := bytes.CutPrefix(lines[i], []byte("IpExt: "))
		values, found2 := bytes.CutPrefix(lines[i+1], []byte("IpExt: "))
		if !found || !found2 {
			continue
		}
		ns, vs := bytes.Fields(names), bytes.Fields(values)
		var gotIn, gotOut bool
		for j := 0; j < len(ns) && j < len(vs); j++ {
			v, err := strconv.ParseFloat(string(vs[j]), 64)
			if err != nil {
				continue
			}
			switch string(ns[j]) {
			case "InOctets":
				in, gotIn = v, true
			case "OutOctets":
				out, gotOut = v, true
			}
		}
		return in, out, gotIn && gotOut
	}
	return 0, 0, false
}
