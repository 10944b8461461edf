package webflowsim

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// listSites answers GET /v2/sites with the sites the token may reach; the
// answer has no paging object, as in Webflow.
func (s *Simulator) listSites(w http.ResponseWriter, t *token) {
	s.mu.RLock()
	var buf bytes.Buffer
	buf.WriteString(`{"sites":[`)
	n := 0
	for _, id := range s.siteOrder {
		if !t.sites[id] {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(s.sites[id].enc)
		n++
	}
	s.mu.RUnlock()
	buf.WriteString(`]}`)
	writeRaw(w, http.StatusOK, buf.Bytes())
}

func (s *Simulator) getSite(w http.ResponseWriter, t *token, id string) {
	st, ok := s.siteAccess(w, t, id)
	if !ok {
		return
	}
	s.mu.RLock()
	b := st.enc
	s.mu.RUnlock()
	writeRaw(w, http.StatusOK, b)
}

// introspect answers GET /v2/token/introspect (no scope needed). With rate
// limiting off, rateLimit reports UnlimitedHeaderValue, matching the
// headers, so a client pacing on either never waits.
func (s *Simulator) introspect(w http.ResponseWriter, t *token) {
	s.mu.RLock()
	ws := s.workspace.ID
	s.mu.RUnlock()
	limit := int(t.rl.limit.Load())
	if limit <= 0 {
		limit = UnlimitedHeaderValue
	}
	in := webflowdata.Introspection{
		Authorization: webflowdata.Authorization{
			ID: t.id, CreatedOn: webflowdata.NewTime(t.createdOn), LastUsed: webflowdata.NewTime(s.now()),
			GrantType: t.grantType, RateLimit: limit, Scope: strings.Join(t.scopeList, ","),
			AuthorizedTo: webflowdata.AuthorizedTo{
				SiteIDs:      append([]string{}, t.siteList...),
				WorkspaceIDs: []string{ws},
				UserIDs:      []string{t.user.ID},
			},
		},
		Application: t.app,
	}
	writeJSON(w, http.StatusOK, in)
}
