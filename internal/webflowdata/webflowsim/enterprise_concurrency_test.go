package webflowsim

import (
	"fmt"
	"sync"
	"testing"
)

// Native SCIM (its own lock) and the Enterprise APIs (the simulator's) run
// side by side without deadlock or race (run with -race), and every SCIM
// user ends up as exactly one SCIM-managed member.
func TestEnterpriseConcurrency(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				email := fmt.Sprintf("c%d-%d@example.com", g, i)
				resp, b := call(t, srv, "POST", "/scim/v2/Users", scimTok, map[string]any{"userName": email, "emails": []any{map[string]any{"value": email, "primary": true}}})
				if resp.StatusCode != 201 {
					t.Errorf("scim: %d %s", resp.StatusCode, b)
					return
				}
				id := decode(t, b)["id"].(string)
				call(t, srv, "PATCH", "/scim/v2/Users/"+id, scimTok, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "name.givenName", "value": "G"}}})
				call(t, srv, "POST", wsPath+"/bulk", wsTok, map[string]any{"memberIds": []string{DemoDesignerMemberID, DemoReviewerMemberID}, "role": "member", "defaultSiteRole": "marketer"})
				call(t, srv, "POST", otherMem, wsTok, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "designer"})
				call(t, srv, "DELETE", otherMem+"/"+DemoDesignerMemberID, wsTok, nil)
				call(t, srv, "GET", wsPath+"?limit=100", wsTok, nil)
				_ = sim.Workspace()
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, m := range sim.Workspace().Members {
		if m.SCIMManaged {
			n++
			if m.FirstName != "G" && m.ID != DemoOwnerMemberID {
				t.Errorf("member %s missed a SCIM change: %+v", m.Email, m)
			}
		}
	}
	if n != 6*15+1 { // and the demo owner
		t.Errorf("%d SCIM-managed members, want %d", n, 6*15+1)
	}
}
