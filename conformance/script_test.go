package conformance

import (
	"fmt"
	"testing"
)

// What an admin writes with curl or Python: application/json, create,
// page through everything, patch, delete.
func TestCustomScript(t *testing.T) {
	d := startDemo(t)
	r := newReplay(t, d)
	js := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	for i := range 7 {
		r.do(step{name: "create", method: "POST", path: "/users", headers: js, status: 201,
			body: fmt.Sprintf(`{"schemas":["%s"],"userName":"script%d@example.com","name":{"givenName":"S","familyName":"%d"}}`, userURN, i, i),
			save: map[string]string{fmt.Sprintf("id%d", i): "id"}})
	}
	total := 0
	for start := 1; ; start += 3 {
		m := r.do(step{name: "page", method: "GET", path: fmt.Sprintf("/Users/?startIndex=%d&count=3", start), headers: js, status: 200})
		n := len(m["Resources"].([]any))
		total += n
		if n == 0 {
			break
		}
	}
	if total != 7 {
		t.Errorf("paged %d users, want 7", total)
	}
	r.run(
		step{name: "patch", method: "PATCH", path: "/Users/{{id3}}", headers: js, status: 200,
			body:   `{"schemas":["` + patchURN + `"],"Operations":[{"op":"replace","path":"displayName","value":"Renamed by script"}]}`,
			expect: map[string]string{"displayName": "Renamed by script"}, check: webflowHas("script3@example.com", "", "Renamed by script")},
		step{name: "delete", method: "DELETE", path: "/Users/{{id3}}", headers: js, status: 204, check: webflowGone("script3@example.com")},
		step{name: "gone", method: "GET", path: "/Users/{{id3}}", headers: js, status: 404},
	)
}
