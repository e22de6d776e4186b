// Command dcs_exporter exports the instance state counts of Huawei Cloud
// DCS (managed Redis and Memcached) to Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/dcs-exporter/dcs_exporter/checks"
	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/serving"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/demo"
	"github.com/dcs-exporter/dcs_exporter/internal/buildinfo"
	"github.com/dcs-exporter/dcs_exporter/internal/processcollector"
	"github.com/dcs-exporter/dcs_exporter/statuspage"
)

const exporterName = "dcs_exporter"

// defaultListenAddress uses a port outside the Prometheus wiki's list of
// default port allocations (whose 9100-9999 range is fully taken).
const defaultListenAddress = ":19867"

func main() {
	buildinfo.Stamp() // a go run or go install build has no -ldflags
	os.Exit(run(os.Args[1:], nil))
}

// flags are the command line settings.
type flags struct {
	configFile       string
	telemetryPath    string
	refreshInterval  time.Duration
	maxConcurrency   int
	maxStaleness     time.Duration
	instancesRefresh time.Duration
	minInterval      time.Duration
	backupsInterval  time.Duration
	maxRequests      int
	demo             bool
	configCheck      bool
	dcsCheck         bool
	web              *web.FlagConfig
	log              *promslog.Config
}

func parseFlags(args []string) (*flags, error) {
	app := kingpin.New(exporterName, "Prometheus exporter for Huawei Cloud DCS instance states.")
	f := &flags{log: &promslog.Config{}}
	d := collector.DefaultOptions()
	app.Flag("config.file", "Path to the configuration file.").Default("dcs_exporter.yml").StringVar(&f.configFile)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.telemetryPath)
	app.Flag("web.max-requests", "Maximum number of scrapes served at once; more get 503. 0 means no limit.").Default("40").IntVar(&f.maxRequests)
	app.Flag("dcs.refresh-interval", "Refresh every target in the background at this interval and serve scrapes from the cache; 0s queries the API on each scrape.").Default(d.RefreshInterval.String()).DurationVar(&f.refreshInterval)
	app.Flag("dcs.max-concurrency", "Maximum number of DCS API calls in flight across all targets.").Default(strconv.Itoa(d.MaxConcurrency)).IntVar(&f.maxConcurrency)
	app.Flag("dcs.max-staleness", "After a failed query, keep serving a target's last counts until they are this old; 0s never serves old counts.").Default(d.MaxStaleness.String()).DurationVar(&f.maxStaleness)
	app.Flag("dcs.min-interval", "With --dcs.refresh-interval=0s, the least time between two queries of a target: a scrape sooner after the last answer is served that answer, so a flood of scrapes costs no more calls. 0s queries on every scrape.").Default(d.MinInterval.String()).DurationVar(&f.minInterval)
	app.Flag("dcs.instances-refresh-interval", "How often the per-instance listing of targets with instances: true is refreshed.").Default(d.InstancesRefreshInterval.String()).DurationVar(&f.instancesRefresh)
	// Hidden: every backup record is one call per instance, so the config
	// holds backups_interval to at least 10 minutes; the end-to-end tests
	// and the demo cannot wait that long.
	app.Flag("dcs.backups-interval", "Replace every target's backups_interval (for tests and the demo); 0s keeps them.").Hidden().Default("0s").DurationVar(&f.backupsInterval)
	app.Flag("demo", "Run against a built-in fake DCS API with a demo fleet; needs no cloud account and ignores --config.file.").BoolVar(&f.demo)
	app.Flag("config.check", "Load and validate the configuration, print what each target resolves to (endpoints, credential sources), and exit. Contacts no endpoint.").BoolVar(&f.configCheck)
	app.Flag("dcs.check", "Call the DCS API once per target, print one line per target with a hint for each failure, and exit: 0 when every target answered, 1 otherwise.").BoolVar(&f.dcsCheck)
	f.web = kingpinflag.AddFlags(app, defaultListenAddress)
	promslogflag.AddFlags(app, f.log)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	if f.maxConcurrency < 1 {
		return nil, errors.New("--dcs.max-concurrency must be at least 1")
	}
	if f.refreshInterval < 0 || f.maxStaleness < 0 || f.instancesRefresh <= 0 {
		return nil, errors.New("--dcs.refresh-interval and --dcs.max-staleness must not be negative, --dcs.instances-refresh-interval must be positive")
	}
	return f, nil
}

// app is the wired exporter: everything but the listening socket, so that
// tests can serve its handler directly.
type app struct {
	flags    *flags
	logger   *slog.Logger
	exporter *collector.Exporter
	reloader *reloader
	handler  http.Handler
	demo     *demo.Demo
}

// newApp parses the flags, loads the configuration and builds the handler.
// A failure is one clear message; main turns it into exit status 1.
func newApp(ctx context.Context, args []string, logOut io.Writer) (*app, error) {
	f, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	return buildApp(ctx, f, logOut)
}

// buildApp is newApp with the flags already parsed.
func buildApp(ctx context.Context, f *flags, logOut io.Writer) (*app, error) {
	var err error
	if logOut != nil {
		f.log.Writer = logOut
	}
	logger := promslog.New(f.log)
	logger.Info("starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())
	a := &app{flags: f, logger: logger}

	configFile := f.configFile
	var demoBanner string
	if f.demo {
		a.demo, err = demo.Start(ctx, logger)
		if err != nil {
			return nil, fmt.Errorf("starting the demo: %w", err)
		}
		configFile = a.demo.ConfigFile
		if f.backupsInterval == 0 {
			// The demo's backups are read every minute rather than every
			// hour, so that its failing backup shows at once.
			f.backupsInterval = demo.BackupsInterval
		}
		demoBanner = "DEMO MODE: the targets below are served by a built-in fake DCS API, not by Huawei Cloud."
		logger.Warn("demo mode: serving a built-in fake DCS API; no cloud account is used", "fake_api", a.demo.URL)
	}

	reg := prometheus.NewRegistry()
	reloads := newReloadMetrics()
	reg.MustRegister(versioncollector.NewCollector(exporterName), collectors.NewGoCollector(),
		processcollector.New(), reloads.success, reloads.timestamp)

	a.exporter = collector.New(collector.Options{
		RefreshInterval:          f.refreshInterval,
		MaxConcurrency:           f.maxConcurrency,
		MaxStaleness:             f.maxStaleness,
		InstancesRefreshInterval: f.instancesRefresh,
		MinInterval:              f.minInterval,
		BackupsInterval:          f.backupsInterval,
		UserAgent:                exporterName + "/" + version.Version,
		Logger:                   logger,
	})
	reg.MustRegister(a.exporter) // its settings: the refresh intervals
	cfg, err := config.Load(configFile)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("loading the configuration: %w", err)
	}
	if err := a.exporter.ApplyConfig(cfg); err != nil {
		a.close()
		return nil, fmt.Errorf("applying the configuration %s: %w", configFile, err)
	}
	reloads.record(true)
	logNotes(logger, cfg)
	logger.Info("configuration loaded", "file", configFile, "targets", len(cfg.Targets))

	a.reloader = &reloader{file: configFile, exporter: a.exporter, metrics: reloads, logger: logger}
	a.handler = newMux(f, a.exporter, reg, a.reloader, demoBanner)
	return a, nil
}

func (a *app) close() {
	if a.demo != nil {
		a.demo.Close()
	}
}

// run is main without the exit, so that tests can drive the whole program.
// When stop is not nil, closing it shuts the server down.
func run(args []string, stop <-chan struct{}) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dcs_exporter:", err)
		return 1
	}
	if f.configCheck || f.dcsCheck {
		return runChecks(ctx, f, os.Stdout)
	}
	a, err := buildApp(ctx, f, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dcs_exporter:", err)
		return 1
	}
	defer a.close()
	logger := a.logger
	go a.exporter.Run(ctx)

	srv := newServer(a.handler, logger)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(hup)
	defer signal.Stop(term)
	go func() {
		for {
			select {
			case <-hup:
				_ = a.reloader.reload()
			case <-ctx.Done():
				return
			}
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(srv, a.flags.web, logger) }()
	select {
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving HTTP", "err", err)
			return 1
		}
		return 0
	case <-term:
		logger.Info("shutting down")
	case <-stop:
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	_ = srv.Shutdown(shutdownCtx)
	return 0
}

// serverLimits are the timeouts newServer sets, so that clients that are
// slow on purpose or by accident cannot hold connections, and with them
// goroutines and --web.max-requests slots, for long: the request line and
// headers must come within 10 s and the whole request within 30 s; the
// answer must be written within 2 minutes (a scrape waits at most its own
// timeout); an idle keep-alive connection is closed after 2 minutes. A
// variable only so that tests can shorten them and watch a slow client
// being cut off.
var serverLimits = struct{ readHeader, read, write, idle time.Duration }{
	readHeader: 10 * time.Second,
	read:       30 * time.Second,
	write:      2 * time.Minute,
	idle:       2 * time.Minute,
}

// newServer sets every timeout of serverLimits and bounds the headers.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverLimits.readHeader,
		ReadTimeout:       serverLimits.read,
		WriteTimeout:      serverLimits.write,
		IdleTimeout:       serverLimits.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func newMux(f *flags, exp *collector.Exporter, reg *prometheus.Registry, rl *reloader, demoBanner string) *http.ServeMux {
	mux := http.NewServeMux()
	limit := limitRequests(f.maxRequests)
	web := serving.New(exp)
	mux.Handle(f.telemetryPath, limit(web.MetricsHandler(reg)))
	mux.Handle("/probe", limit(web.ProbeHandler()))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !exp.Ready() {
			http.Error(w, "Not ready: the first refresh has not finished", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST or PUT to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := rl.reload(); err != nil {
			http.Error(w, "failed to reload the configuration: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintln(w, "Configuration reloaded")
	})
	if f.telemetryPath != "/" {
		mux.Handle("/", statuspage.New(statuspage.Options{
			Targets: exp.TargetStatuses,
			Ready:   exp.Ready,
			Version: version.Info(),
			Demo:    demoBanner,
			Links: []statuspage.Link{
				{Address: f.telemetryPath, Text: "Metrics"},
				{Address: "/probe?target=" + url.QueryEscape(firstTargetName(exp)), Text: "Probe one target"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		}))
	}
	return mux
}

func firstTargetName(exp *collector.Exporter) string {
	if ts := exp.Targets(); len(ts) > 0 {
		return ts[0].Name()
	}
	return ""
}

// limitRequests answers 503 when more than n scrapes are already being
// served, so that a storm of scrapes cannot exhaust the process.
func limitRequests(n int) func(http.Handler) http.Handler {
	if n <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	slots := make(chan struct{}, n)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
				h.ServeHTTP(w, r)
			default:
				http.Error(w, fmt.Sprintf("too many scrapes at once (limit %d)", n), http.StatusServiceUnavailable)
			}
		})
	}
}

// reloader applies a new configuration file; a bad one leaves the old one
// serving.
type reloader struct {
	mu       sync.Mutex
	file     string
	exporter *collector.Exporter
	metrics  *reloadMetrics
	logger   *slog.Logger
}

func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.file)
	if err == nil {
		err = r.exporter.ApplyConfig(cfg)
	}
	r.metrics.record(err == nil)
	if err != nil {
		r.logger.Error("reloading the configuration failed; the old one stays in force", "file", r.file, "err", err)
		return err
	}
	logNotes(r.logger, cfg)
	r.logger.Info("configuration reloaded", "file", r.file, "targets", len(cfg.Targets))
	return nil
}

// logNotes logs what the configuration load noticed without failing: an
// unknown region, an API version dropped from an endpoint.
func logNotes(logger *slog.Logger, cfg *config.Config) {
	for _, n := range cfg.Notes {
		logger.Log(context.Background(), n.Level, n.Msg)
	}
}

type reloadMetrics struct {
	success   prometheus.Gauge
	timestamp prometheus.Gauge
}

func newReloadMetrics() *reloadMetrics {
	return &reloadMetrics{
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dcs_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or failed (0).",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dcs_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
}

func (m *reloadMetrics) record(ok bool) {
	if ok {
		m.success.Set(1)
		m.timestamp.SetToCurrentTime()
		return
	}
	m.success.Set(0)
}

// runChecks runs --config.check and --dcs.check (both, in that order, when
// both are given) and returns the exit status.
func runChecks(ctx context.Context, f *flags, stdout io.Writer) int {
	configFile := f.configFile
	if f.demo {
		d, err := demo.Start(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			fmt.Fprintln(os.Stderr, "dcs_exporter: starting the demo:", err)
			return 1
		}
		defer d.Close()
		configFile = d.ConfigFile
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dcs_exporter: loading the configuration:", err)
		return 1
	}
	ok := true
	if f.configCheck {
		err = checks.PrintConfig(stdout, configFile, cfg)
	} else {
		err = checks.PrintNotes(os.Stderr, cfg)
	}
	if err == nil && f.dcsCheck {
		if f.configCheck {
			_, err = fmt.Fprintln(stdout)
		}
		if err == nil {
			ok, err = checks.DCS(ctx, stdout, cfg, checks.DCSOptions{MaxConcurrency: f.maxConcurrency, UserAgent: exporterName + "/" + version.Version})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dcs_exporter:", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}
