package scimserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/elimity-com/scim"

	"github.com/webflowscim/bridge/internal/mapping"
)

// projectionOf is the request's attributes / excludedAttributes lists
// (RFC 7644 §3.9), nil when it has neither.
func projectionOf(r *http.Request) (inc, exc []string, ok bool) {
	q := queryOf(r)
	inc, exc = mapping.ParseAttrList(q.Get("attributes")), mapping.ParseAttrList(q.Get("excludedAttributes"))
	return inc, exc, len(inc) > 0 || len(exc) > 0
}

// projectCommon applies the request's projection to a whole rendered
// resource, the common attributes included: meta and externalId are
// returned "default" (RFC 7643 §3.1), so they follow the lists like the
// others, while id and schemas always stay (mapping.Project).
func projectCommon(doc map[string]any, r *http.Request) map[string]any {
	inc, exc, ok := projectionOf(r)
	if !ok {
		return doc
	}
	return mapping.Project(scim.ResourceAttributes(doc), inc, exc)
}

// projectingWriter holds the library's answer for one resource (it adds
// meta and externalId after the handler's projection), and writes it with
// the request's projection applied to the whole resource.
type projectingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (p *projectingWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

func (p *projectingWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return p.body.Write(b)
}

func (p *projectingWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// finish writes the held answer: a 2xx JSON resource projected, anything
// else (errors, 204) as it was.
func (p *projectingWriter) finish(r *http.Request) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	out := p.body.Bytes()
	if p.status >= 200 && p.status < 300 && len(out) > 0 {
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if dec.Decode(&doc) == nil && doc["id"] != nil {
			if b, err := json.Marshal(projectCommon(doc, r)); err == nil {
				out = b
			}
		}
	}
	p.Header().Set("Content-Length", strconv.Itoa(len(out)))
	p.ResponseWriter.WriteHeader(p.status)
	_, _ = p.ResponseWriter.Write(out)
}
