package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A credential file must be a regular file of at most 64 KiB, after
// following symlinks: /dev/zero, a directory and an oversized file are
// refused at load with a clear error, a symlink to a key file is not.
func TestCredentialFileMustBeSmallRegularFile(t *testing.T) {
	dir := testDir(t)
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 64<<10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sk"), filepath.Join(dir, "sk-link")); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"/dev/zero": `"/dev/zero": a credential file must be a regular file (or a symlink to one) of at most 64 KiB: this is a character device`,
		"adir":      `is a directory, not a file`,
		"big":       `a credential file must be a regular file (or a symlink to one) of at most 64 KiB: this one has 65537 bytes`,
		"sk-link":   "",
	} {
		_, err := parseIn(dir, creds("access_key_file: ak", "secret_key_file: "+file))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", file, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "secret_key_file")):
			t.Errorf("%s: got %v, want an error of secret_key_file with %q", file, err, want)
		}
	}
}

// A credential file anyone may read is accepted, with a warning noted once
// however many targets share it.
func TestCredentialFileReadableByAllNoted(t *testing.T) {
	dir := testDir(t)
	if err := os.Chmod(filepath.Join(dir, "sk"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, dir, doc("defaults:", "  credentials: {access_key_file: ak, secret_key_file: sk}", "targets:",
		"  - {name: a, region: cn-north-4}", "  - {name: b, region: cn-north-4}"))
	var notes []Note
	for _, n := range cfg.Notes {
		if strings.Contains(n.Msg, "can be read by every user") {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 || notes[0].Level != slog.LevelWarn || !strings.Contains(notes[0].Msg, "defaults.credentials.secret_key_file") ||
		!strings.Contains(notes[0].Msg, "0644") || strings.Contains(notes[0].Msg, "/ak") {
		t.Errorf("notes %v: want one warning about sk, mode 0644", cfg.Notes)
	}
	if err := os.Chmod(filepath.Join(dir, "sk"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg = mustParse(t, dir, creds("access_key_file: ak", "secret_key_file: sk"))
	if len(cfg.Notes) != 0 {
		t.Errorf("notes %v for files only their group may read", cfg.Notes)
	}
}

// insecure_skip_verify is noted as a warning for each target that has it,
// naming the target, also when it comes from the defaults.
func TestInsecureSkipVerifyNoted(t *testing.T) {
	dir := testDir(t)
	cfg := mustParse(t, dir, doc("defaults:", "  tls: {insecure_skip_verify: true}", "  credentials: {env: true}", "targets:",
		"  - {name: lab-a, region: cn-north-4}", "  - {name: lab-b, region: cn-north-4}", "  - {name: safe, region: cn-north-4, tls: {}}"))
	var warned []string
	for _, n := range cfg.Notes {
		if n.Level == slog.LevelWarn && strings.Contains(n.Msg, "defaults.tls.insecure_skip_verify") && strings.Contains(n.Msg, "NOT verified") {
			warned = append(warned, n.Msg)
		}
	}
	if len(warned) != 2 || !strings.Contains(warned[0], `target "lab-a"`) || !strings.Contains(warned[1], `target "lab-b"`) {
		t.Errorf("warnings %q: want one for lab-a and one for lab-b", warned)
	}
}
