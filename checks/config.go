package checks

// This file is --config.check: what each target resolves to, printed
// without a secret and without calling anything.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// PrintConfig writes what each target of a valid configuration resolves to:
// one block per target, keys aligned, credential keys by source only. It
// contacts no endpoint and never prints a credential value.
func PrintConfig(w io.Writer, file string, cfg *config.Config) error {
	head := &printer{w: w}
	head.printf("%s is valid: %d %s.\n", file, len(cfg.Targets), plural(len(cfg.Targets), "target", "targets"))
	if head.err != nil {
		return head.err
	}
	if err := PrintNotes(w, cfg); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	for _, t := range cfg.Targets {
		p.printf("\n%s\n", oneLine(t.Name))
		row := func(key, value string) { p.printf("  %s\t%s\n", key, oneLine(value)) }
		row("region", t.Region)
		iamUse := ""
		if t.ProjectID == "" {
			row("project_id", "looked up in IAM by region name")
		} else {
			row("project_id", t.ProjectID)
			iamUse = " (not used: project_id is set)"
		}
		row("endpoint", redact.URL(t.Endpoint))
		row("iam_endpoint", redact.URL(t.IAMEndpoint)+iamUse)
		row("api_version", t.APIVersion)
		row("instances", enabled(t.Instances))
		if t.Instances {
			row("listing bounds", fmt.Sprintf("max_instances %d, listing_timeout %s", t.MaxInstances, t.ListingTimeout))
			row("/sd", "offers its instances once listed")
		} else {
			// /sd serves listings, so a target that is not listed has
			// nothing there; say so, rather than let it look like a fleet
			// without instances.
			row("/sd", "left out: instances is off, so its instances are not listed")
		}
		row("nodes", nodesOf(t))
		row("backups", backupsOf(t))
		row("statistics", statisticsOf(t))
		row("quota", quotaOf(t))
		row("include_failure", fmt.Sprint(t.IncludeFailure))
		row("timeout", t.Timeout.String())
		row("proxy", proxyOf(t))
		row("tls", tlsOf(t.TLS))
		if len(t.Labels) > 0 {
			var labels []string
			for _, name := range t.LabelNames() {
				labels = append(labels, name+"="+t.Labels[name])
			}
			row("labels", strings.Join(labels, ", "))
		}
		if len(t.InstanceTags) > 0 {
			var tags []string
			for _, tag := range t.InstanceTags {
				tags = append(tags, tag.Key+" as "+tag.Label)
			}
			row("instance_tags", strings.Join(tags, ", "))
		}
		for _, s := range keySources(t.Credentials) {
			row(s.Key, sourceOf(s))
		}
	}
	if p.err != nil {
		return p.err
	}
	return tw.Flush()
}

// PrintNotes writes what the load noticed without failing (an unknown
// region whose endpoints are guessed, an API version cut from an endpoint),
// as the exporter logs it at start.
func PrintNotes(w io.Writer, cfg *config.Config) error {
	p := &printer{w: w}
	for _, n := range cfg.Notes {
		p.printf("%s: %s\n", strings.ToLower(n.Level.String()), oneLine(n.Msg))
	}
	return p.err
}

// sourceOf names where a credential key comes from. For the environment it
// says whether the variable is set in this process, which tells a user of
// systemd or Kubernetes whether the variable arrived, without showing it.
func sourceOf(s keySource) string {
	switch s.Kind {
	case "file":
		return "file " + s.Where
	case "env":
		if _, ok := os.LookupEnv(s.Where); ok {
			return "environment variable " + s.Where + " (set)"
		}
		if s.Key == "security_token" {
			return "environment variable " + s.Where + " (not set: permanent keys need none)"
		}
		return "environment variable " + s.Where + " (NOT SET in this environment)"
	case "metadata":
		return "metadata service " + redact.URL(s.Where)
	}
	return s.Kind
}

// proxyOf shows the proxy the target's calls go through, its password
// masked.
func proxyOf(t config.Target) string {
	if t.ProxyURL != nil {
		return redact.URLOf(t.ProxyURL) + " (proxy_url)"
	}
	req, err := http.NewRequest(http.MethodGet, t.Endpoint, nil)
	if err != nil {
		return "none"
	}
	u, err := http.ProxyFromEnvironment(req)
	if err != nil || u == nil {
		return "none"
	}
	return redact.URLOf(u) + " (from HTTPS_PROXY or HTTP_PROXY)"
}

func tlsOf(t config.TLS) string {
	switch {
	case t.InsecureSkipVerify:
		return "certificates NOT verified (insecure_skip_verify)"
	case t.CAFile != "":
		return "CA file " + t.CAFile
	}
	return "system CAs"
}

func enabled(b bool) string {
	if b {
		return "enabled (per-instance series from the list API)"
	}
	return "disabled"
}

// statisticsOf says whether each query also reads the running instances'
// statistics, and from which path.
func statisticsOf(t config.Target) string {
	if !t.Statistics {
		return "disabled"
	}
	return "enabled (keys, memory and network of running instances, GET " + fleetPrefix(t) + "{project_id}/instances/statistic with each query)"
}

// quotaOf says whether and how often the project's quota is read. Both API
// versions document a quota path (docs/fleet-apis.md, section 2), so
// nothing is skipped for v1.
func quotaOf(t config.Target) string {
	if !t.Quota {
		return "disabled"
	}
	every := "every 10m"
	if t.Instances {
		every = "every --dcs.instances-refresh-interval, with the listing"
	}
	return "enabled (GET " + fleetPrefix(t) + "{project_id}/quota, " + every + ")"
}

func fleetPrefix(t config.Target) string {
	if t.APIVersion == "v1" {
		return "/v1.0/"
	}
	return "/v2/"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
