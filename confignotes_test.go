package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What the configuration load notices without failing is logged, at start
// and on reload: a warning for an unknown region, an info line for an API
// version dropped from an endpoint.
func TestConfigNotesLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	src := "targets:\n  - name: lab\n    region: xx-lab-1\n    credentials: {env: true}\n    iam_endpoint: https://iam.example.com/v3\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), []string{"--config.file=" + path}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := a.reloader.reload(); err != nil {
		t.Fatal(err)
	}
	for level, note := range map[string]string{
		"WARN": `:3: targets[0].region: target \"lab\": region \"xx-lab-1\" is not in the region tables`,
		"INFO": `:5: targets[0].iam_endpoint: dropped /v3 from the end of the URL`,
	} {
		n := 0
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "level="+level) && strings.Contains(line, note) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d log lines at %s with %q, want one at start and one on reload:\n%s", n, level, note, logs)
		}
	}
}

// insecure_skip_verify is warned of at start and at every reload, naming
// the target.
func TestInsecureSkipVerifyLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dcs_exporter.yml")
	src := "targets:\n  - name: lab\n    region: cn-north-4\n    credentials: {env: true}\n    tls: {insecure_skip_verify: true}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), []string{"--config.file=" + path}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	for range 2 {
		if err := a.reloader.reload(); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, `target \"lab\": the TLS certificates of its API endpoints are NOT verified`) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d warnings of insecure_skip_verify, want one at start and one at each of 2 reloads:\n%s", n, logs)
	}
}
