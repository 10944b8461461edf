package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/statuspage"
)

// The status page is wired on both listeners, reads the bridge's own
// figures, and takes logging.redactEmails from the config.
func TestStatusPageWired(t *testing.T) {
	h := newBridge(t, func(c *config.Config) { c.Log.RedactEmails = true })
	h.newUser("wired.person@example.com")
	h.app.health.probeRedis(t.Context())
	h.app.health.probeWebflow(t.Context())

	code, _, raw := h.opsGet(h.ts.URL+"/admin/status.json", "Bearer "+testAdminToken)
	var st statuspage.Status
	if code != 200 || json.Unmarshal([]byte(raw), &st) != nil {
		t.Fatalf("/admin/status.json: %d %s", code, raw)
	}
	_, ready := h.readyz()
	if st.Readiness != ready["status"] || len(st.Sites) != 1 || st.Sites[0].ID != testSite || st.Sites[0].Token != str(ready, "sites."+testSite+".token") {
		t.Errorf("status.json %+v; /readyz %v", st, ready)
	}
	if len(st.Audit) == 0 || st.Audit[0].Action == "" {
		t.Errorf("no audit events after a create: %+v", st.Audit)
	}
	if strings.Contains(raw, "wired.person@") || !strings.Contains(raw, "***@example.com") {
		t.Errorf("with redactEmails the email must be masked: %s", raw)
	}
	for _, secret := range []string{testAdminToken, testToken, testWorkspaceToken} {
		if strings.Contains(raw, secret) {
			t.Error("status.json carries a configured token")
		}
	}
	if code, _, _ := h.opsGet(h.ts.URL+"/admin/status.json", "Bearer wrong-admin-token-0123456789abcdef"); code != 401 {
		t.Errorf("a wrong token: %d", code)
	}
	// The page itself, on the main listener and on the admin listener.
	if code, _, body := h.opsGet(h.ts.URL+"/admin/", ""); code != 200 || !strings.Contains(body, `action="/admin/login"`) {
		t.Errorf("main listener /admin/: %d", code)
	}
	w := httptest.NewRecorder()
	h.app.adminHandler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/admin/login"`) {
		t.Errorf("admin listener /admin/: %d", w.Code)
	}
}
