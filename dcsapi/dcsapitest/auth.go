package dcsapitest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The gateway's messages for APIGW.0301.
const (
	msgBadSignature = "Incorrect IAM authentication information: verify aksk signature fail"
	msgLockedOut    = "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden"
)

// authenticate checks a DCS or IAM request as the gateway does and returns
// "" or the error_msg of the 401 to send. Besides the signature it checks
// the security token of temporary keys and that X-Project-Id, when sent,
// names the project of the path. More than five failures in a row lock the
// access key for five minutes, good signatures or not.
func (s *Server) authenticate(r *http.Request, projectID string) string {
	// A malformed header leaves ak empty: refused, and locks out nobody.
	parsed, _ := ParseAuthorization(r.Header.Get("Authorization"))
	ak, signed := parsed.AccessKey, parsed.SignedHeaders
	now := s.gatewayNow()
	s.mu.Lock()
	key, known := s.keys[ak]
	until, locked := s.lockedUntil[ak]
	if locked && !now.Before(until) {
		delete(s.lockedUntil, ak)
		locked = false
	}
	s.mu.Unlock()
	if locked {
		return msgLockedOut
	}

	ok := known && VerifySignature(r, nil, func(string) (string, bool) { return key.secret, true }, now) == nil
	token, hasToken := r.Header["X-Security-Token"]
	if key.token != "" {
		ok = ok && hasToken && len(token) == 1 && token[0] == key.token && slices.Contains(signed, "x-security-token")
	} else {
		// A permanent key with a token is a confused client; the gateway
		// would look the key up as a temporary one and not find it.
		ok = ok && !hasToken
	}
	if !key.expires.IsZero() && !now.Before(key.expires) {
		ok = false
	}
	if pid := r.Header.Get("X-Project-Id"); projectID != "" && pid != "" && pid != projectID {
		ok = false
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		delete(s.authFailures, ak)
		return ""
	}
	if ak != "" {
		s.authFailures[ak]++
		if s.authFailures[ak] > maxAuthFailures {
			delete(s.authFailures, ak)
			s.lockedUntil[ak] = now.Add(lockoutPeriod)
		}
	}
	return msgBadSignature
}

// iamDomainID is the account of every fake project.
const iamDomainID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

type iamLinks struct {
	Self     string  `json:"self"`
	Previous *string `json:"previous,omitempty"`
	Next     *string `json:"next,omitempty"`
}

type iamProjectJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DomainID    string   `json:"domain_id"`
	ParentID    string   `json:"parent_id"`
	IsDomain    bool     `json:"is_domain"`
	Enabled     bool     `json:"enabled"`
	Description string   `json:"description"`
	Links       iamLinks `json:"links"`
}

// iamAnswer serves KeystoneListProjects, GET /v3/projects?name=REGION; with
// no name it lists every project.
func (s *Server) iamAnswer(r *http.Request, sh shape) *answer {
	name, byName := r.URL.Query()["name"]
	s.mu.Lock()
	var list []iamProjectJSON
	for _, p := range s.iamProjects {
		if byName && (len(name) == 0 || p.region != name[0]) {
			continue
		}
		list = append(list, iamProjectJSON{
			ID: p.id, Name: p.region, DomainID: iamDomainID, ParentID: iamDomainID, Enabled: true,
			Links: iamLinks{Self: s.URL + "/v3/projects/" + p.id},
		})
	}
	s.mu.Unlock()
	self := s.URL + "/v3/projects"
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	doc := struct {
		Links    iamLinks `json:"links"`
		Projects any      `json:"projects"`
	}{Links: iamLinks{Self: self}, Projects: append([]iamProjectJSON{}, list...)}
	if sh == shapeStrings {
		doc.Projects = map[string]int{"count": len(list)}
	}
	a := jsonAnswer(http.StatusOK, mustJSON(doc))
	a.header.Set("X-IAM-Trace-Id", newRequestID())
	return a
}

// metadataCredential is what the metadata service hands out.
type metadataCredential struct {
	ak, sk, token string
	expiresAt     time.Time
}

// The metadata service's limits on session token lifetimes, and how many
// session tokens the fake remembers.
const (
	maxMetadataTokenTTL = 21600
	maxMetadataTokens   = 1000
)

// SetMetadataCredentials makes the ECS metadata service hand out these
// temporary credentials, and the gateway accept them until expiresAt (by the
// server's clock). Earlier metadata credentials stay valid until their own
// expiry, as on the real service.
func (s *Server) SetMetadataCredentials(ak, sk, token string, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metadata = &metadataCredential{ak: ak, sk: sk, token: token, expiresAt: expiresAt}
	s.keys[ak] = accessKey{secret: sk, token: token, expires: expiresAt}
}

// metadataAnswer serves PUT /meta-data/latest/api/token (a session token for
// 1..21600 seconds, X-Metadata-Token-Ttl-Seconds required) and GET
// /openstack/latest/securitykey, which takes a session token when one is
// sent and rejects unknown or expired ones.
func (s *Server) metadataAnswer(r *http.Request, rt route, sh shape) *answer {
	now := s.now()
	if rt.api == APIMetadataToken {
		ttl, err := strconv.Atoi(r.Header.Get("X-Metadata-Token-Ttl-Seconds"))
		if err != nil || ttl < 1 || ttl > maxMetadataTokenTTL {
			return newAnswer(http.StatusBadRequest, "text/plain", []byte("invalid X-Metadata-Token-Ttl-Seconds"))
		}
		token := newRequestID()
		s.mu.Lock()
		if len(s.metadataTokens) >= maxMetadataTokens {
			for t, exp := range s.metadataTokens {
				if !now.Before(exp) {
					delete(s.metadataTokens, t)
				}
			}
		}
		if len(s.metadataTokens) < maxMetadataTokens {
			s.metadataTokens[token] = now.Add(time.Duration(ttl) * time.Second)
		}
		s.mu.Unlock()
		return newAnswer(http.StatusOK, "text/plain", []byte(token))
	}

	s.mu.Lock()
	mc := s.metadata
	sessionOK := true
	if t := r.Header.Get("X-Metadata-Token"); t != "" {
		exp, ok := s.metadataTokens[t]
		sessionOK = ok && now.Before(exp)
	}
	s.mu.Unlock()
	if !sessionOK {
		return newAnswer(http.StatusUnauthorized, "text/plain", []byte("invalid or expired metadata token"))
	}
	if mc == nil {
		return newAnswer(http.StatusNotFound, "text/plain", []byte("Please configure Cloud Service Agency first"))
	}
	var expires any = mc.expiresAt.UTC().Format("2006-01-02T15:04:05.000000Z")
	if sh == shapeStrings {
		expires = mc.expiresAt.Unix()
	}
	body, err := json.Marshal(map[string]any{"credential": map[string]any{
		"access": mc.ak, "secret": mc.sk, "securitytoken": mc.token, "expires_at": expires,
	}})
	if err != nil {
		return gatewayError(http.StatusInternalServerError, "DCS.5000", "Internal service error.")
	}
	return jsonAnswer(http.StatusOK, body)
}
