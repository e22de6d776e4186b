package dcsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/endpoints"
	"github.com/dcs-exporter/dcs_exporter/internal/credfile"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// Credentials are an access key pair, with a security token when they are
// temporary. Their String form never shows the secret key or the token.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// String masks the secrets, so that credentials printed by mistake leak
// nothing.
func (c Credentials) String() string {
	token := ""
	if c.SecurityToken != "" {
		token = ", SecurityToken: <secret>"
	}
	return fmt.Sprintf("Credentials{AccessKey: %s, SecretKey: <secret>%s}", c.AccessKey, token)
}

// GoString masks the secrets for %#v too.
func (c Credentials) GoString() string { return c.String() }

// CredentialProvider hands out the credentials to sign the next request with.
// It is called on every request, so it must be cheap when nothing changed.
type CredentialProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// StaticCredentials are credentials written in the configuration.
type StaticCredentials Credentials

// Credentials returns the configured credentials.
func (s StaticCredentials) Credentials(context.Context) (Credentials, error) {
	if s.AccessKey == "" || s.SecretKey == "" {
		return Credentials{}, &CredentialsError{Source: "config", Err: errors.New("access key or secret key is empty")}
	}
	return Credentials(s), nil
}

// String masks the secrets.
func (s StaticCredentials) String() string { return Credentials(s).String() }

// The environment variables of the official SDK.
const (
	EnvAccessKey     = "HUAWEICLOUD_SDK_AK"
	EnvSecretKey     = "HUAWEICLOUD_SDK_SK"
	EnvSecurityToken = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
)

// EnvCredentials reads the SDK's environment variables on every call, so a
// process supervisor that changes them needs no restart of the provider.
type EnvCredentials struct{}

// Credentials returns the credentials from the environment.
func (EnvCredentials) Credentials(context.Context) (Credentials, error) {
	c := Credentials{
		AccessKey:     os.Getenv(EnvAccessKey),
		SecretKey:     os.Getenv(EnvSecretKey),
		SecurityToken: os.Getenv(EnvSecurityToken),
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return Credentials{}, &CredentialsError{Source: "env", Err: fmt.Errorf("%s and %s must both be set", EnvAccessKey, EnvSecretKey)}
	}
	return c, nil
}

// FileCredentials reads the keys from files and reads them again whenever a
// file changes, as Kubernetes does when it rotates a mounted Secret (it swaps
// a symlink, so the file's identity and modification time change). A key
// without a file is taken as given, so that each key can be written inline
// or kept in a file on its own (a rotated secret key beside a fixed access
// key, say).
type FileCredentials struct {
	AccessKeyFile     string
	SecretKeyFile     string
	SecurityTokenFile string // optional

	// AccessKey, SecretKey and SecurityToken are used when their file is
	// not set.
	AccessKey, SecretKey, SecurityToken string

	mu    sync.Mutex
	files [3]watchedFile
}

// String masks the secrets, so that the provider printed by mistake leaks
// nothing.
func (f *FileCredentials) String() string {
	return fmt.Sprintf("FileCredentials{AccessKeyFile: %q, SecretKeyFile: %q, SecurityTokenFile: %q, inline: %s}",
		f.AccessKeyFile, f.SecretKeyFile, f.SecurityTokenFile, Credentials{AccessKey: f.AccessKey, SecretKey: f.SecretKey, SecurityToken: f.SecurityToken})
}

// GoString masks the secrets for %#v too.
func (f *FileCredentials) GoString() string { return f.String() }

type watchedFile struct {
	info    os.FileInfo
	content string
}

// Credentials returns the files' current contents, surrounding white space
// removed.
func (f *FileCredentials) Credentials(context.Context) (Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	paths := [3]string{f.AccessKeyFile, f.SecretKeyFile, f.SecurityTokenFile}
	values := [3]string{f.AccessKey, f.SecretKey, f.SecurityToken}
	for i, path := range paths {
		if path == "" {
			continue
		}
		v, err := f.files[i].read(path)
		if err != nil {
			return Credentials{}, &CredentialsError{Source: "file", Err: err}
		}
		values[i] = v
	}
	c := Credentials{AccessKey: values[0], SecretKey: values[1], SecurityToken: values[2]}
	if c.AccessKey == "" || c.SecretKey == "" {
		return Credentials{}, &CredentialsError{Source: "file", Err: fmt.Errorf("%s or %s is empty", orInline(f.AccessKeyFile), orInline(f.SecretKeyFile))}
	}
	return c, nil
}

// orInline names where a key came from in an error, never its value.
func orInline(path string) string {
	if path == "" {
		return "the inline key"
	}
	return path
}

// MaxCredentialFileBytes and ErrBadCredentialFile are credfile's, for
// callers of this package.
const MaxCredentialFileBytes = credfile.MaxBytes

var ErrBadCredentialFile = credfile.ErrBad

// read returns the file's content, reading it only when its identity, size or
// modification time differ from the last read.
func (w *watchedFile) read(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, errors.Unwrap(err))
	}
	if err := credfile.Check(info); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if w.info != nil && os.SameFile(w.info, info) && w.info.ModTime().Equal(info.ModTime()) && w.info.Size() == info.Size() {
		return w.content, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	// The file may have changed since the check: never read past the bound.
	data, err := io.ReadAll(io.LimitReader(f, MaxCredentialFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, errors.Unwrap(err))
	}
	if len(data) > MaxCredentialFileBytes {
		return "", fmt.Errorf("reading %s: %w: it grew past that while being read", path, ErrBadCredentialFile)
	}
	w.info, w.content = info, strings.TrimSpace(string(data))
	return w.content, nil
}

// DefaultMetadataEndpoint is the ECS metadata service, which hands out the
// temporary credentials of the agency bound to an ECS or CCE node.
const DefaultMetadataEndpoint = endpoints.Metadata

// MetadataCredentials fetches temporary credentials from the ECS metadata
// service and refreshes them well before they expire. Only one refresh runs
// at a time; callers that arrive meanwhile wait for it.
type MetadataCredentials struct {
	Endpoint   string       // DefaultMetadataEndpoint when empty
	HTTPClient *http.Client // a client with a 3 s timeout when nil
	// OnRequest, when set, is told of every call to the metadata service with
	// its HTTP status code, or "error".
	OnRequest func(api, code string)
	Now       func() time.Time

	mu        sync.Mutex
	cached    Credentials
	expiresAt time.Time
	refreshAt time.Time
}

// metadataRefreshMargin matches the SDK: credentials are renewed once less
// than 40 minutes of their life remain.
const metadataRefreshMargin = 40 * time.Minute

// Credentials returns cached temporary credentials, fetching new ones when
// they are due for renewal.
func (m *MetadataCredentials) Credentials(ctx context.Context) (Credentials, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached.AccessKey != "" && now.Before(m.refreshAt) {
		return m.cached, nil
	}
	c, expires, err := m.fetch(ctx)
	if err != nil {
		// Credentials that have not expired yet are still good to use.
		if m.cached.AccessKey != "" && now.Before(m.expiresAt) {
			// Try again later rather than on every request: the fetch holds
			// the lock, and a hanging metadata service would slow them all.
			m.refreshAt = now.Add(min(time.Minute, m.expiresAt.Sub(now)/2))
			return m.cached, nil
		}
		return Credentials{}, &CredentialsError{Source: "metadata", Err: err}
	}
	m.cached, m.expiresAt = c, expires
	margin := metadataRefreshMargin
	if life := expires.Sub(now); life < 2*margin {
		margin = life / 2
	}
	m.refreshAt = expires.Add(-margin)
	return c, nil
}

func (m *MetadataCredentials) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// metadataCredential accepts both spellings the metadata service has used.
type metadataCredential struct {
	Access          string `json:"access"`
	AccessKeyID     string `json:"accessKeyId"`
	Secret          string `json:"secret"`
	SecretAccessKey string `json:"secretAccessKey"`
	SecurityToken   string `json:"securitytoken"`
	SecurityToken2  string `json:"securityToken"`
	ExpiresAt       string `json:"expires_at"`
	Expiration      string `json:"expiration"`
}

func (m *MetadataCredentials) fetch(ctx context.Context) (Credentials, time.Time, error) {
	endpoint := m.Endpoint // normalised by config
	if endpoint == "" {
		endpoint = DefaultMetadataEndpoint
	}
	client := m.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 3 * time.Second}
	}
	client = withoutRedirects(client)
	token := m.sessionToken(ctx, client, endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/openstack/latest/securitykey", nil)
	if err != nil {
		return Credentials{}, time.Time{}, err
	}
	if token != "" {
		req.Header.Set("X-Metadata-Token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		m.count("error")
		return Credentials{}, time.Time{}, fmt.Errorf("metadata service: %w", shown(scrubURLError(err)))
	}
	defer resp.Body.Close()
	m.count(statusCode(resp.StatusCode))
	if isRedirect(resp.StatusCode) {
		return Credentials{}, time.Time{}, newRedirectError(APIMetadata, resp)
	}
	var buf bytes.Buffer
	if err := readCapped(&buf, resp.Body, 64<<10, resp.ContentLength); err != nil {
		return Credentials{}, time.Time{}, fmt.Errorf("metadata service: %w", shown(err))
	}
	body := buf.Bytes()
	if resp.StatusCode >= 400 {
		return Credentials{}, time.Time{}, newAPIError(APIMetadata, resp, body, m.now())
	}
	var doc struct {
		Credential *metadataCredential `json:"credential"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Credential == nil {
		return Credentials{}, time.Time{}, &DecodeError{API: APIMetadata, Field: "credential", Err: errors.New("missing or malformed")}
	}
	mc := doc.Credential
	c := Credentials{
		AccessKey:     firstNonEmpty(mc.Access, mc.AccessKeyID),
		SecretKey:     firstNonEmpty(mc.Secret, mc.SecretAccessKey),
		SecurityToken: firstNonEmpty(mc.SecurityToken, mc.SecurityToken2),
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return Credentials{}, time.Time{}, &DecodeError{API: APIMetadata, Field: "credential.access", Err: errors.New("access or secret is empty")}
	}
	expiry := firstNonEmpty(mc.ExpiresAt, mc.Expiration)
	expires, err := time.Parse(time.RFC3339Nano, expiry)
	if err != nil {
		return Credentials{}, time.Time{}, &DecodeError{API: APIMetadata, Field: "credential.expires_at", Err: fmt.Errorf("bad time %q", redact.Text(expiry, 40))}
	}
	return c, expires, nil
}

// sessionToken asks for an IMDSv2-style session token. Older metadata
// services do not have the call; the credentials request then goes without.
func (m *MetadataCredentials) sessionToken(ctx context.Context, client *http.Client, endpoint string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/meta-data/latest/api/token", nil)
	if err != nil {
		return ""
	}
	req.Header.Set("X-Metadata-Token-Ttl-Seconds", "21600")
	resp, err := client.Do(req)
	if err != nil {
		m.count("error")
		return ""
	}
	defer resp.Body.Close()
	m.count(statusCode(resp.StatusCode))
	var body bytes.Buffer
	if err := readCapped(&body, resp.Body, 4<<10, resp.ContentLength); err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return strings.TrimSpace(body.String())
}

func (m *MetadataCredentials) count(code string) {
	if m.OnRequest != nil {
		m.OnRequest(APIMetadata, code)
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
