// Package diagnosis explains why a call to the DCS API failed, in the
// operator's terms: which step failed, what the API or the network said, and
// one hint on what to do. --config.check, --dcs.check, the status page and
// the exporter's log all take their hints from here, so that they never
// disagree; no other package writes advice into an error.
package diagnosis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// Step is the part of a query that failed.
type Step string

// The steps of a query, in the order a query takes them.
const (
	StepCredentials Step = "credentials"
	StepIAMLookup   Step = "IAM lookup"
	StepStatus      Step = "status call"
	StepListing     Step = "instance listing"
	StepNodes       Step = "node listing"
	StepBackups     Step = "backup records"
	StepStatistics  Step = "statistics call"
	StepQuota       Step = "quota call"
)

// Finding is the diagnosis of one failure. None of its fields holds a
// secret: they are built from the error, whose text never carries one, and
// from the target's configuration without its credential values.
type Finding struct {
	Step       Step
	StatusCode int    // HTTP status; 0 when there was no answer
	Code       string // the API's error code, e.g. APIGW.0301; may be empty
	RequestID  string // what support needs to trace the call; may be empty
	// Problem is what went wrong, in one line: the API's error message, or
	// the error text when there was no answer.
	Problem string
	// Hint says what to do, in plain words; empty when nothing better than
	// Problem can be said.
	Hint string
}

// Diagnose explains err, which the given step of a query of target t
// returned. The step is the caller's best knowledge; an error that carries
// its own (refused credentials, an answer of IAM or of the metadata
// service) overrides it.
func Diagnose(step Step, err error, t config.Target) Finding {
	f := Finding{Step: stepOf(step, err), Problem: err.Error()}
	var apiErr *dcsapi.APIError
	var decodeErr *dcsapi.DecodeError
	var lookupErr *dcsapi.ProjectLookupError
	var noProject *dcsapi.NoProjectError
	var redirect *dcsapi.RedirectError
	var limitErr *dcsapi.LimitError
	switch {
	case errors.As(err, &redirect):
		f.StatusCode, f.RequestID = redirect.StatusCode, redirect.RequestID
	case errors.As(err, &apiErr):
		f.StatusCode, f.Code, f.RequestID = apiErr.StatusCode, apiErr.Code, apiErr.RequestID
		if f.Code == strconv.Itoa(f.StatusCode) {
			f.Code = "" // IAM's nested errors repeat the status as their code
		}
		// Both lookups failed: the error itself says how each did.
		if !errors.As(err, &lookupErr) {
			f.Problem = apiErr.Message
		}
		if f.Problem == "" {
			f.Problem = http.StatusText(apiErr.StatusCode)
		}
	case errors.As(err, &decodeErr):
		f.RequestID = decodeErr.RequestID
	}
	// dcsapi made the API's words safe already; this is the last stop
	// before a page, a terminal or a log, so it makes sure of it for every
	// error, with the secrets the configuration holds.
	secrets := []string{string(t.Credentials.SecretKey), string(t.Credentials.SecurityToken)}
	f.Problem = redact.Text(f.Problem, redact.MaxText, secrets...)
	f.Code = redact.Text(f.Code, 32, secrets...)
	f.RequestID = redact.Text(f.RequestID, redact.MaxID, secrets...)
	var credErr *dcsapi.CredentialsError
	switch {
	case errors.As(err, &credErr):
		f.Hint = credentialsHint(credErr, t)
	case lookupErr != nil:
		f.Hint = iamRefusedHint
	case errors.As(err, &noProject):
		f.Hint = noProjectHint(noProject)
	case redirect != nil:
		f.Hint = redirectHint(f.Step, redirect, t)
	case errors.As(err, &limitErr):
		f.Hint = limitHint(f.Step, limitErr, t)
	case apiErr != nil:
		f.Hint = apiHint(f.Step, apiErr, t)
	default:
		f.Hint = transportHint(f.Step, err, t)
	}
	return f
}

// Summary is the finding in one line without the hint, for example
// "status call: HTTP 401 APIGW.0301 (request id 7f3a…): Incorrect IAM
// authentication information: verify aksk signature fail".
func (f Finding) Summary() string {
	var b strings.Builder
	b.WriteString(string(f.Step))
	if f.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", f.StatusCode)
		if f.Code != "" {
			b.WriteString(" " + f.Code)
		}
	}
	if f.RequestID != "" {
		b.WriteString(" (request id " + f.RequestID + ")")
	}
	if f.Problem != "" {
		b.WriteString(": " + f.Problem)
	}
	return b.String()
}

// stepOf lets errors that know where they come from correct the caller's
// step.
func stepOf(step Step, err error) Step {
	var credErr *dcsapi.CredentialsError
	var lookupErr *dcsapi.ProjectLookupError
	var noProject *dcsapi.NoProjectError
	switch {
	case errors.As(err, &credErr):
		return StepCredentials
	case errors.As(err, &lookupErr), errors.As(err, &noProject):
		return StepIAMLookup
	}
	api := ""
	var apiErr *dcsapi.APIError
	var decodeErr *dcsapi.DecodeError
	var callErr *dcsapi.CallError
	var redirect *dcsapi.RedirectError
	switch {
	case errors.As(err, &redirect):
		api = redirect.API
	case errors.As(err, &apiErr):
		api = apiErr.API
	case errors.As(err, &decodeErr):
		api = decodeErr.API
	case errors.As(err, &callErr):
		api = callErr.API
	}
	switch api {
	case dcsapi.APIIAMProjects, dcsapi.APIIAMAuthProjects:
		return StepIAMLookup
	case dcsapi.APIInstanceStatus:
		return StepStatus
	case dcsapi.APIListInstances:
		return StepListing
	case dcsapi.APINodes:
		return StepNodes
	case dcsapi.APIBackups:
		return StepBackups
	case dcsapi.APIStatistics:
		return StepStatistics
	case dcsapi.APIQuota:
		return StepQuota
	case dcsapi.APIMetadata:
		return StepCredentials
	}
	return step
}

// gatewayCode reports whether code is the API gateway's code with the given
// number, in its APIGW. or older APIG. spelling (docs/api-facts.md §5.4).
func gatewayCode(code, number string) bool {
	return code == "APIGW."+number || code == "APIG."+number
}

// apiHint explains an error answer. The codes and their meaning are from the
// API gateway's error code table ("Error Codes", API Request Signing Guide,
// support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-errorcode.html)
// and the DCS error codes (api-dcs/ErrorCode.html); see docs/api-facts.md
// §5.3 and §5.4.
func apiHint(step Step, e *dcsapi.APIError, t config.Target) string {
	code, status := e.Code, e.StatusCode
	switch {
	case e.API == dcsapi.APIMetadata:
		return metadataAnswerHint(e, t)

	case gatewayCode(code, "0301") && strings.Contains(e.Message, "reach the limit"):
		return "The API gateway has locked this access key for 5 minutes after repeated failed signatures. " +
			"Fix the access key or secret key (or the clock) first, then wait 5 minutes; the exporter backs off by itself."
	case gatewayCode(code, "0307") || strings.Contains(e.Message, "token expire"):
		return "The security token has expired, or belongs to another region. " +
			"Renew the temporary credentials (security_token), or use a permanent key pair."
	case status == http.StatusUnauthorized || gatewayCode(code, "0301") || gatewayCode(code, "0303") || gatewayCode(code, "0305"):
		return signatureHint(e)

	case gatewayCode(code, "0308") || status == http.StatusTooManyRequests:
		wait := ""
		if e.RetryAfter > 0 {
			wait = fmt.Sprintf(" (the API asks for %s)", e.RetryAfter.Round(time.Second))
		}
		return "The API gateway is throttling this key: too many calls in a short time. Try again later" + wait +
			"; the exporter backs off by itself. If it keeps happening, refresh less often (--dcs.refresh-interval, the scrape interval) or spread targets over several keys."

	case status == http.StatusForbidden && step == StepIAMLookup:
		return iamRefusedHint
	case (step == StepNodes || step == StepBackups) && (status == http.StatusForbidden || status == http.StatusNotFound):
		return fleetHint(step, e, t)
	case gatewayCode(code, "0310"):
		return fmt.Sprintf("The project is not available to this key: project_id %s does not belong to the key's account, or is not a project of region %s. "+
			"Check project_id and region, or leave project_id out to look it up in IAM.", orUnset(t.ProjectID), t.Region)
	case gatewayCode(code, "0401") || gatewayCode(code, "0402") || gatewayCode(code, "0404"):
		return "The API gateway does not accept calls from this machine's IP address: the key or the account restricts the source IPs (IAM access control). Allow this address, or go through an allowed proxy."
	case gatewayCode(code, "0801") || gatewayCode(code, "0802"):
		return fmt.Sprintf("DCS or the IAM user is not available in region %s: check the region, or enable the region for the account.", t.Region)
	case status == http.StatusForbidden && (step == StepStatistics || step == StepQuota):
		return fleetForbiddenHint(step, t)
	case status == http.StatusNotFound && (step == StepStatistics || step == StepQuota):
		return fleetMissingHint(step, t)
	case status == http.StatusForbidden:
		return fmt.Sprintf("The key is not allowed to read DCS in this project: attach the DCS ReadOnlyAccess policy for region %s to the key's user group, "+
			"and check that project_id %s belongs to the key's account.", t.Region, orUnset(t.ProjectID))

	// Whatever the body says (APIGW.0101 from the gateway, DCS.4001 or
	// 111404001 from the service), a missing v2 status path is what Open
	// Telekom Cloud answers: it documents the status API as v1.0 only
	// (docs/api-facts.md §4.2).
	case status == http.StatusNotFound && step == StepStatus && t.APIVersion != string(dcsapi.V1):
		return "This cloud has no v2 status API (Open Telekom Cloud and some others offer only v1.0): set api_version: v1 for this target."
	case status == http.StatusNotFound:
		return fmt.Sprintf("The API path does not exist at %s: check endpoint (a path after the host is kept as a prefix), and that region %s offers DCS.", endpointOf(step, t), t.Region)

	case status >= 500:
		if e.Code == "" {
			return "Something between the exporter and the API (a proxy or load balancer) answered with an error page: usually temporary. If it persists, check the proxy and endpoint."
		}
		return "The cloud service failed: usually temporary, and the next attempt may succeed. If it persists, give the request id to the cloud's support."
	}
	return ""
}

// redirectHint explains a 3xx answer. The API does not redirect (the SDK
// does not follow redirects, AllowRedirects false in
// core/impl/default_http_client.go), so one comes from a wrong endpoint (a
// console or portal address, http instead of https) or from a proxy or
// gateway in between that rewrites it.
func redirectHint(step Step, e *dcsapi.RedirectError, t config.Target) string {
	to := "elsewhere"
	if e.Location != "" {
		to = "to " + e.Location
	}
	return fmt.Sprintf("%s answered with a redirect %s, which the exporter never follows (it would carry the signed request and the security token there): "+
		"the endpoint is probably wrong (check scheme, host and path against the region's API endpoint), or a proxy in between rewrites it.", endpointOf(step, t), to)
}

// limitHint explains an answer refused for going past a bound.
func limitHint(step Step, e *dcsapi.LimitError, t config.Target) string {
	switch e.Limit {
	case dcsapi.LimitMaxInstances, dcsapi.LimitListingTimeout:
		return fmt.Sprintf("The listing went past %s, and was stopped: the exporter keeps serving the last listing within --dcs.max-staleness, and the status counts as usual. "+
			"If the project really has that many instances (or lists that slowly), raise %s for this target; otherwise %s is not the DCS API, or is misbehaving.", e.Limit, e.Limit, endpointOf(step, t))
	}
	return fmt.Sprintf("The status answer from %s has more engines or states, or longer names, than any DCS API sends (%s): it is not the DCS API, or is misbehaving. "+
		"The last good counts are served within --dcs.max-staleness.", endpointOf(step, t), e.Limit)
}

// The permissions of the fleet APIs, from their API reference pages'
// "Authorization Information" (identity policy-based authorization):
// BatchShowNodesInformation needs dcs:instance:list
// (support.huaweicloud.com/intl/en-us/api-dcs/BatchShowNodesInformation.html)
// and ListBackupRecords dcs:instance:getDataBackupLog
// (support.huaweicloud.com/intl/en-us/api-dcs/ListBackupRecords.html, and
// "Permissions Policies and Supported Actions", api-grant-policy.html).
const (
	PermissionNodes   = "dcs:instance:list"
	PermissionBackups = "dcs:instance:getDataBackupLog"
)

// fleetHint explains a refused or missing node listing or backup records
// call: which permission the key needs, or which key of the target to
// turn off on a cloud without the API.
func fleetHint(step Step, e *dcsapi.APIError, t config.Target) string {
	key, permission, api := "nodes", PermissionNodes, "the node listing (GET /v2/{project_id}/instances-logical-nodes)"
	if step == StepBackups {
		key, permission, api = "backups", PermissionBackups, "the backup records (GET .../instances/{instance_id}/backups)"
	}
	if e.StatusCode == http.StatusForbidden {
		return fmt.Sprintf("The key may not read %s: its policy lacks the action %s (the DCS ReadOnlyAccess policy for region %s grants it). "+
			"Grant it, or set %s: false for this target; the rest of the target works without it.", api, permission, t.Region, key)
	}
	if step == StepBackups && e.Code == "111404022" {
		return "The instance was deleted after the last listing; it is left out from the next round."
	}
	return fmt.Sprintf("This cloud does not offer %s at %s: set %s: false for this target; the rest of the target works without it.",
		api, endpointOf(step, t), key)
}

// fleetForbiddenHint explains a 403 to the statistics or quota call while
// the status call may well succeed: the key's policy allows some DCS reads
// but not this one. DCS's table of IAM actions ("Permissions Policies and
// Supported Actions", api-grant-policy, in Huawei's and OTC's API
// references) lists no action of its own for either path, so the hint
// names the system policy that allows every DCS read (docs/fleet-apis.md,
// section 6).
func fleetForbiddenHint(step Step, t config.Target) string {
	api, key := fleetAPI(step, t)
	return fmt.Sprintf("The key may not call %s. DCS's table of IAM actions names no action of its own for it: attach the DCS ReadOnlyAccess system policy for region %s "+
		"(a custom policy with only dcs:instance:list and dcs:instance:get may not cover it), or set %s: false for this target to stop asking.", api, t.Region, key)
}

// fleetMissingHint explains a 404 to the statistics or quota call: the
// cloud, or its API gateway, does not offer that API.
func fleetMissingHint(step Step, t config.Target) string {
	api, key := fleetAPI(step, t)
	return fmt.Sprintf("This cloud does not offer %s at %s (HTTP 404): set %s: false for this target. The status counts are not affected.", api, endpointOf(step, t), key)
}

// fleetAPI names the path of a fleet step and the config key that turns it
// off.
func fleetAPI(step Step, t config.Target) (api, key string) {
	prefix := "/v2/"
	if t.APIVersion == string(dcsapi.V1) {
		prefix = "/v1.0/"
	}
	if step == StepQuota {
		return "the quota API (GET " + prefix + "{project_id}/quota)", "quota"
	}
	return "the statistics API (GET " + prefix + "{project_id}/instances/statistic)", "statistics"
}

// iamRefusedHint explains an IAM project lookup that the key may not make.
// Which permission it needs, and that DCS ReadOnlyAccess lacks it, is in
// docs/api-facts.md §3.4 (IAM API reference, KeystoneListProjects).
var iamRefusedHint = "IAM refused to list the projects: the key lacks the IAM permission " + dcsapi.PermissionListProjects +
	", which the DCS ReadOnlyAccess policy does not grant. Set project_id for this target (the console shows it under My Credentials > API Credentials), which avoids the lookup, or grant that permission."

// noProjectHint explains a lookup that found no single project.
func noProjectHint(e *dcsapi.NoProjectError) string {
	if len(e.IDs) > 1 {
		return "Several projects have this name: set project_id to the one to watch."
	}
	return fmt.Sprintf("No project of this account is named after region %s: check the region for typos, or set project_id.", e.Region)
}

// signatureHint explains a refused signature, naming the clock when the
// answer's Date showed that it is off: the gateway refuses signatures more
// than 15 minutes off its clock (APIG FAQ, docs/api-facts.md §1.8).
func signatureHint(e *dcsapi.APIError) string {
	off, side := e.ClockSkew, "behind"
	if off < 0 {
		off, side = -off, "ahead of"
	}
	if off > dcsapi.ClockSkewLimit {
		return fmt.Sprintf("This machine's clock is about %s %s the API gateway's (by its Date header), and signatures more than 15 minutes off are refused: fix the clock (check NTP). "+
			"If the clock is right, the access key or secret key is wrong.", roughDuration(off), side)
	}
	return "The access key or secret key is wrong (the gateway locks a key for 5 minutes after more than 5 failures in a row), or this machine's clock is more than 15 minutes off (check NTP)."
}

// roughDuration writes d in whole minutes, hours or days: a hint must read
// the same from one call to the next, while the measured offset moves by a
// second now and then.
func roughDuration(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + " minutes"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Round(time.Hour)/time.Hour)) + " hours"
	}
	return strconv.Itoa(int(d.Round(24*time.Hour)/(24*time.Hour))) + " days"
}

// metadataAnswerHint explains an error answer of the ECS metadata service.
// The "Please configure Cloud Service Agency first" answer is the one the
// SDK special-cases (core/auth/internal/metadata_accessor.go, docs/api-facts.md
// §3.3).
func metadataAnswerHint(e *dcsapi.APIError, t config.Target) string {
	if e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusUnauthorized || strings.Contains(e.Message, "Agency") {
		return "The metadata service has no credentials for this server: bind an agency (with DCS ReadOnlyAccess) to the ECS server or to the CCE node pool, or use access keys instead of metadata: true."
	}
	return fmt.Sprintf("The metadata service at %s answered with an error: it runs only on ECS and CCE nodes of Huawei Cloud, and the server needs an agency. Use access keys when the exporter runs elsewhere.", redact.URL(t.Credentials.MetadataEndpoint))
}

// credentialsHint explains credentials that could not be obtained.
func credentialsHint(e *dcsapi.CredentialsError, t config.Target) string {
	switch e.Source {
	case "file":
		var pathErr *fs.PathError
		path := ""
		if errors.As(e, &pathErr) {
			path = pathErr.Path + " "
		}
		switch {
		case errors.Is(e, dcsapi.ErrBadCredentialFile):
			return "A credential file must be a regular file of at most 64 KiB holding only the key (a symlink to one is fine, as in a mounted Kubernetes Secret): " +
				"check that the *_file path names the key file itself, not a device, a directory or another file."
		case errors.Is(e, fs.ErrNotExist):
			return "A credential file does not exist: check its path in the configuration, and that the Secret or volume holding it is mounted into the exporter."
		case errors.Is(e, fs.ErrPermission):
			return "The exporter's user cannot read a credential file " + path + "(a mounted Secret needs a defaultMode or fsGroup that lets it): fix the file's permissions."
		case errors.Is(e, syscall.EISDIR):
			return "A credential file path names a directory: point it at the file inside."
		}
		return "A credential file is empty or unreadable: each *_file must hold only the key, on one line."
	case "env":
		return fmt.Sprintf("env: true reads %s and %s (and %s for temporary keys): set them in the exporter's environment.",
			dcsapi.EnvAccessKey, dcsapi.EnvSecretKey, dcsapi.EnvSecurityToken)
	case "metadata":
		var apiErr *dcsapi.APIError
		if errors.As(e, &apiErr) {
			return metadataAnswerHint(apiErr, t)
		}
		var redirect *dcsapi.RedirectError
		if errors.As(e, &redirect) {
			return redirectHint(StepCredentials, redirect, t)
		}
		var decodeErr *dcsapi.DecodeError
		if errors.As(e, &decodeErr) {
			return fmt.Sprintf("The metadata service at %s answered, but not with credentials: check metadata_endpoint.", redact.URL(t.Credentials.MetadataEndpoint))
		}
		return fmt.Sprintf("The metadata service at %s cannot be reached: metadata: true works only on an ECS server or CCE node of Huawei Cloud with an agency bound to it. "+
			"Use access keys when the exporter runs elsewhere.", redact.URL(t.Credentials.MetadataEndpoint))
	}
	return "The credentials are incomplete: access_key and secret_key are both needed."
}

// transportHint explains a call that got no usable answer.
func transportHint(step Step, err error, t config.Target) string {
	endpoint := endpointOf(step, t)
	proxy := "If this network reaches the cloud through a proxy, set proxy_url for the target or HTTPS_PROXY for the exporter."
	var (
		dnsErr     *net.DNSError
		opErr      *net.OpError
		unknownCA  x509.UnknownAuthorityError
		wrongHost  x509.HostnameError
		badCert    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		headerErr  tls.RecordHeaderError
		decodeErr  *dcsapi.DecodeError
		netTimeout interface{ Timeout() bool }
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return "The proxy cannot be reached: check proxy_url, or HTTPS_PROXY and NO_PROXY in the exporter's environment."
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("The host name of %s does not resolve: check region and endpoint for typos, and this machine's DNS. %s", endpoint, proxy)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("Nothing accepts connections at %s: check endpoint (host and port) and region. %s", endpoint, proxy)
	case errors.As(err, &wrongHost):
		return fmt.Sprintf("The TLS certificate of %s is for another host name: check endpoint, or the proxy in between.", endpoint)
	case errors.As(err, &badCert):
		return fmt.Sprintf("The TLS certificate of %s is not valid (expired, or not for serving): check endpoint, or the TLS-intercepting proxy in between.", endpoint)
	case errors.As(err, &unknownCA) || errors.As(err, &verifyErr):
		return fmt.Sprintf("The TLS certificate of %s is signed by a CA this machine does not trust: if a proxy or private cloud signs with its own CA, set tls.ca_file to that CA's PEM file.", endpoint)
	case errors.As(err, &headerErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("%s does not speak TLS: check the scheme (https:// or http://) and port of endpoint.", endpoint)
	case errors.As(err, &decodeErr) || errors.Is(err, dcsapi.ErrResponseTooLarge):
		return fmt.Sprintf("The answer from %s is not what the DCS API sends: check that endpoint points at the DCS API and not at a portal or proxy page. If it does, report it with the request id.", endpoint)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netTimeout) && netTimeout.Timeout():
		return fmt.Sprintf("No answer from %s within the target's timeout (%s): a firewall may drop the traffic, or the network needs a proxy. %s Raise timeout if the API is just slow.", endpoint, t.Timeout, proxy)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Sprintf("The connection to %s was cut in the middle of the call: usually temporary; if it persists, a proxy or firewall is interfering.", endpoint)
	}
	return ""
}

// endpointOf is the endpoint a step talks to, for hints, through the one
// URL formatter: scheme, host and path, never a user or password.
func endpointOf(step Step, t config.Target) string {
	s := t.Endpoint
	switch step {
	case StepIAMLookup:
		s = t.IAMEndpoint
	case StepCredentials:
		if t.Credentials.Metadata {
			s = t.Credentials.MetadataEndpoint
		}
	}
	return redact.URL(s)
}

func orUnset(projectID string) string {
	if projectID == "" {
		return "(looked up in IAM)"
	}
	return projectID
}
