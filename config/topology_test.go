package config

import (
	"strings"
	"testing"
	"time"
)

// The nodes and backups keys: merged from the defaults like the others,
// backups_interval bounded below, and backups without instances noted.
func TestTopologyKeys(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc(
		"defaults:",
		"  region: cn-north-4",
		"  instances: true",
		"  nodes: true",
		"  backups: true",
		"  backups_interval: 30m",
		"  credentials: {env: true}",
		"targets:",
		"  - name: inherits",
		"  - name: overrides",
		"    nodes: false",
		"    backups_interval: 2h",
		"  - name: plain",
		"    backups: false",
	))
	in, over, plain := cfg.Targets[0], cfg.Targets[1], cfg.Targets[2]
	if !in.Nodes || !in.Backups || in.BackupsInterval != 30*time.Minute {
		t.Errorf("inherits: nodes %v backups %v interval %v", in.Nodes, in.Backups, in.BackupsInterval)
	}
	if over.Nodes || !over.Backups || over.BackupsInterval != 2*time.Hour {
		t.Errorf("overrides: nodes %v backups %v interval %v", over.Nodes, over.Backups, over.BackupsInterval)
	}
	if plain.Backups {
		t.Errorf("plain: backups %v", plain.Backups)
	}
	if len(cfg.Notes) != 0 {
		t.Errorf("notes: %v", cfg.Notes)
	}

	// Without any of the keys: off, and the documented default interval.
	cfg = mustParse(t, dir, doc("targets:", "  - name: a", "    region: cn-north-4", "    credentials: {env: true}"))
	if a := cfg.Targets[0]; a.Nodes || a.Backups || a.BackupsInterval != DefaultBackupsInterval {
		t.Errorf("defaults: nodes %v backups %v interval %v", a.Nodes, a.Backups, a.BackupsInterval)
	}
}

func TestBackupsIntervalErrors(t *testing.T) {
	dir := testDir(t)
	for _, tc := range []struct{ src, want string }{
		{target("    backups_interval: 5m"), `dcs_exporter.yml:5: targets[0].backups_interval: must be at least 10m0s, since each read is one call per instance, got "5m"`},
		{target("    backups_interval: 1x"), `dcs_exporter.yml:5: targets[0].backups_interval: invalid duration "1x"`},
		{target("    backups_interval: [1h]"), `dcs_exporter.yml:5: targets[0].backups_interval: must be a string, got a list`},
		{target("    backups: yes please"), `dcs_exporter.yml:5: targets[0].backups: must be true or false, got a string`},
		{doc("defaults:", "  backups_interval: 9m59s", "targets: []"), `dcs_exporter.yml:2: defaults.backups_interval: must be at least 10m0s, since each read is one call per instance, got "9m59s"`},
	} {
		_, err := parseIn(dir, tc.src)
		if err == nil {
			t.Errorf("%q: no error, want %s", tc.src, tc.want)
			continue
		}
		if got := errText(err, dir); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

// backups: true on a target that does not list its instances reads
// nothing; the load says so, naming where the key came from.
func TestBackupsWithoutInstancesIsNoted(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc("defaults:", "  backups: true", "targets:",
		"  - name: a", "    region: cn-north-4", "    credentials: {env: true}"))
	if len(cfg.Notes) != 1 || !strings.Contains(cfg.Notes[0].Msg, "dcs_exporter.yml:2: defaults.backups: target \"a\": backups: true needs instances: true") {
		t.Fatalf("notes: %+v", cfg.Notes)
	}
}

// Target labels and instance tags cannot take the names of the node and
// backup series' own labels.
func TestTopologyLabelsReserved(t *testing.T) {
	dir := testDir(t)
	_, err := parseIn(dir, target("    labels: {az_code: x}"))
	if err == nil || !strings.Contains(err.Error(), `label name "az_code" is already used by the exporter`) {
		t.Errorf("az_code as a target label: %v", err)
	}
}
