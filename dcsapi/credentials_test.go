package dcsapi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// A key kept in a file beside keys written inline: only the file's key is
// read from disk, and it is read again when the file is replaced, while
// other goroutines sign with it (run with -race).
func TestFileCredentialsSingleRotatedFile(t *testing.T) {
	const ak, token, oldSK, newSK = "HPUAINLINEAK00000001", "InlineTokenNotASecretOfAnyone", "OldSecretKeyFromFile-0001", "NewSecretKeyFromFile-0002"
	skFile := filepath.Join(t.TempDir(), "sk")
	writeSwapped(t, skFile, oldSK+"\n")
	creds := &dcsapi.FileCredentials{AccessKey: ak, SecretKeyFile: skFile, SecurityToken: token}
	ctx := context.Background()
	if c, err := creds.Credentials(ctx); err != nil || c != (dcsapi.Credentials{AccessKey: ak, SecretKey: oldSK, SecurityToken: token}) {
		t.Fatalf("got %v, %v", c, err)
	}

	// Readers read until the file has been replaced. Each read gives the old
	// key or the new one, never a mix or an error, and the first read that
	// starts after the swap gives the new key.
	const readers = 4
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	rotated := make(chan struct{})
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				done := false
				select {
				case <-rotated:
					done = true
				default:
				}
				c, err := creds.Credentials(ctx)
				switch {
				case err != nil:
					errs <- err
				case c.AccessKey != ak || c.SecurityToken != token || c.SecretKey != oldSK && c.SecretKey != newSK:
					errs <- fmt.Errorf("a read gave %v", c)
				case done && c.SecretKey != newSK:
					errs <- fmt.Errorf("a read after the swap gave the old key")
				case !done:
					continue
				}
				return
			}
		}()
	}
	writeSwapped(t, skFile, newSK+"\n")
	close(rotated)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c, err := creds.Credentials(ctx); err != nil || c.SecretKey != newSK {
		t.Errorf("after rotation: %v, %v", c, err)
	}
}

// writeSwapped replaces path by renaming a new file over it, as a Kubernetes
// Secret volume does.
func writeSwapped(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Inline keys held by FileCredentials show neither in its printed forms nor
// in its errors.
func TestFileCredentialsHideInlineSecrets(t *testing.T) {
	const secret, token = "InlineSecretKey-mustNeverLeak-77", "InlineToken-mustNeverLeak-88"
	dir := t.TempDir()
	creds := &dcsapi.FileCredentials{AccessKeyFile: filepath.Join(dir, "missing-ak"), SecretKey: secret, SecurityToken: token}
	_, err := creds.Credentials(context.Background())
	if err == nil {
		t.Fatal("no error for a missing file")
	}
	writeSwapped(t, filepath.Join(dir, "empty-ak"), "\n")
	creds2 := &dcsapi.FileCredentials{AccessKeyFile: filepath.Join(dir, "empty-ak"), SecretKey: secret}
	_, err2 := creds2.Credentials(context.Background())
	if err2 == nil || !strings.Contains(err2.Error(), "empty-ak or the inline key is empty") {
		t.Errorf("empty access key file: %v", err2)
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), err2.Error(),
		fmt.Sprintf("%v %+v %#v %s", creds, creds, creds, creds)} {
		if strings.Contains(text, "mustNeverLeak") {
			t.Errorf("shows a secret: %s", text)
		}
	}
	if !strings.Contains(err.Error(), "missing-ak") {
		t.Errorf("error does not name the file: %v", err)
	}
}

// Credential files are read only when the path leads, through symlinks, to
// a regular file of at most 64 KiB (issue 19: secret_key_file: /dev/zero
// ran the exporter out of memory).
func TestCredentialFileBounds(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Repeat("k", size)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ak := write("ak", 20)
	good := write("sk", dcsapi.MaxCredentialFileBytes)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for path, ok := range map[string]bool{
		good:        true,
		link:        true,
		"/dev/zero": false,
		dir:         false,
		write("big", dcsapi.MaxCredentialFileBytes+1): false,
	} {
		f := &dcsapi.FileCredentials{AccessKeyFile: ak, SecretKeyFile: path}
		_, err := f.Credentials(t.Context())
		switch {
		case ok && err != nil:
			t.Errorf("%s: %v", path, err)
		case !ok && !errors.Is(err, dcsapi.ErrBadCredentialFile):
			t.Errorf("%s: got %v, want ErrBadCredentialFile", path, err)
		}
	}
}
