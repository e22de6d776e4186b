// This file builds the fake's answers, the services' error shapes among
// them, and sends them whole or badly.

package dcsapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// answer is one HTTP answer, built in full before it is sent so that the
// transport faults can deliver it badly.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	size    int64 // > 0: send this many filler bytes instead of body
	chunked bool  // send no Content-Length
}

const jsonContentType = "application/json;charset=UTF-8"

// newAnswer carries an X-Request-Id, as every answer of the real services.
func newAnswer(status int, contentType string, body []byte) *answer {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("X-Request-Id", newRequestID())
	return &answer{status: status, header: h, body: body}
}

// setRequestID replaces the answer's request id wherever it is: a header,
// or request_id at the top of a JSON body.
func (a *answer) setRequestID(id string) {
	for _, h := range []string{"X-Request-Id", "X-IAM-Trace-Id"} {
		if a.header.Get(h) != "" {
			a.header.Set(h, id)
		}
	}
	var doc map[string]any
	if json.Unmarshal(a.body, &doc) == nil {
		if _, ok := doc["request_id"]; ok {
			doc["request_id"] = id
			a.body = mustJSON(doc)
		}
	}
}

func jsonAnswer(status int, body []byte) *answer {
	return newAnswer(status, jsonContentType, body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("dcsapitest: encoding %T: %v", v, err))
	}
	return b
}

// gatewayError is the API gateway's error shape: the request id is both in
// the body and in the X-Request-Id header.
func gatewayError(status int, code, msg string) *answer {
	a := jsonAnswer(status, nil)
	a.body = mustJSON(struct {
		Code      any    `json:"error_code"`
		Msg       string `json:"error_msg"`
		RequestID string `json:"request_id"`
	}{jsonCode(code), msg, a.header.Get("X-Request-Id")})
	return a
}

// serviceError is the DCS service's own error shape (ErrorInfo).
func serviceError(status int, code, msg string) *answer {
	return jsonAnswer(status, mustJSON(struct {
		Code   any     `json:"error_code"`
		Msg    string  `json:"error_msg"`
		ExtMsg *string `json:"error_ext_msg"`
	}{jsonCode(code), msg, nil}))
}

// iamError is IAM's nested shape; its request id is X-IAM-Trace-Id alone.
func iamError(status int, code, msg string) *answer {
	a := jsonAnswer(status, nil)
	a.header.Set("X-IAM-Trace-Id", a.header.Get("X-Request-Id"))
	a.header.Del("X-Request-Id")
	type inner struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
	}
	a.body = mustJSON(struct {
		Error inner `json:"error"`
	}{inner{jsonCode(code), msg, http.StatusText(status)}})
	return a
}

// errorAnswer spells an error in the given shape.
func errorAnswer(sh ErrorShape, status int, code, msg string) *answer {
	switch sh {
	case ShapeService:
		return serviceError(status, code, msg)
	case ShapeNested:
		return iamError(status, code, msg)
	case ShapeCodeMessage:
		a := jsonAnswer(status, nil)
		id := a.header.Get("X-Request-Id")
		a.header.Del("X-Request-Id")
		a.body = mustJSON(struct {
			Code      any    `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		}{jsonCode(code), msg, id})
		return a
	}
	return gatewayError(status, code, msg)
}

// jsonCode sends a code of digits, such as IAM's 403 or DCS's legacy
// 111400002, as a JSON number, and any other as a string.
func jsonCode(code string) any {
	if code == "" {
		return code
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return code
		}
	}
	return json.Number(code)
}

func apiNotFound() *answer {
	return gatewayError(http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment")
}

// htmlPage imitates the page a reverse proxy sends when the backend fails,
// padding comments and all.
func htmlPage(status int) *answer {
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	var b bytes.Buffer
	fmt.Fprintf(&b, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", title, title)
	for range 6 {
		b.WriteString("<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n")
	}
	return newAnswer(status, "text/html", b.Bytes())
}

func (a *answer) length() int64 {
	if a.size > 0 {
		return a.size
	}
	return int64(len(a.body))
}

func (a *answer) writeHeader(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	if !a.chunked {
		h.Set("Content-Length", strconv.FormatInt(a.length(), 10))
	}
	w.WriteHeader(a.status)
}

func (a *answer) write(w http.ResponseWriter) {
	a.writeHeader(w)
	if a.size > 0 {
		streamFiller(w, a.size)
		return
	}
	_, _ = w.Write(a.body)
}

// filler is the content of oversized bodies, shared and never written to:
// a 256 MiB body costs the fake no memory.
var filler = bytes.Repeat([]byte("x"), 32<<10)

const fillerPrefix = `{"padding":"`

// streamFiller writes n bytes of a JSON string that never ends, and stops as
// soon as the client stops reading.
func streamFiller(w http.ResponseWriter, n int64) {
	head := fillerPrefix[:min(int64(len(fillerPrefix)), n)]
	if _, err := w.Write([]byte(head)); err != nil {
		return
	}
	for left := n - int64(len(head)); left > 0; {
		chunk := filler[:min(int64(len(filler)), left)]
		if _, err := w.Write(chunk); err != nil {
			return
		}
		left -= int64(len(chunk))
	}
}

// bodyBytes is the body as the transport faults send it; an oversized body
// is cut to its first filler chunk, enough to fail halfway through.
func (a *answer) bodyBytes() []byte {
	if a.size > 0 {
		return append([]byte(fillerPrefix), filler[:1024]...)
	}
	return a.body
}

// resetMidBody announces the whole body, sends half of it and closes the
// connection, which the client sees as an unexpected EOF mid-body. A plain
// close (not an RST) makes sure the client has read the headers first.
func (s *Server) resetMidBody(w http.ResponseWriter, a *answer) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if !s.track(conn) {
		_ = conn.Close()
		return
	}
	defer s.untrack(conn)
	body := a.bodyBytes()
	declared := max(len(body), 1) // an empty body must still come up short
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", a.status, http.StatusText(a.status))
	h := a.header.Clone()
	h.Set("Content-Length", strconv.Itoa(declared))
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	_ = conn.Close()
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.hijacked[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hijacked, c)
}

// trickle sends the answer a few bytes at a time with pauses, as a congested
// or throttling proxy does. It reports whether the whole answer went out.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, a *answer, f *Fault) bool {
	piece := int(f.Size)
	if piece <= 0 {
		piece = 8
	}
	pause := f.Delay
	if pause <= 0 {
		pause = defaultTricklePause
	}
	body := a.bodyBytes()
	a.writeHeader(w)
	flusher, _ := w.(http.Flusher)
	for i := 0; i < len(body); i += piece {
		if i > 0 && !s.pause(r.Context(), pause) {
			return false
		}
		if _, err := w.Write(body[i:min(i+piece, len(body))]); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	return true
}
