package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// The load generator writes its bodies as bytes; they must be the same
// JSON as the map forms (the peer and the bridge get identical requests).
func TestBenchBodies(t *testing.T) {
	same := func(name string, got []byte, want any) {
		t.Helper()
		var g, w any
		wb, _ := json.Marshal(want)
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v: %s", name, err, got)
		}
		_ = json.Unmarshal(wb, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, wb)
		}
	}
	same("create", benchCreateJSON(`a"b@example.com`, "Mixed", "7"), benchCreateBody(`a"b@example.com`, "Mixed", "7"))
	same("add member", benchAddMemberJSON("id-1"), benchPatch(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": "id-1"}}}))
	for _, a := range []bool{false, true} {
		same(fmt.Sprint("active ", a), benchActiveJSON(a), benchPatch(map[string]any{"op": "replace", "value": map[string]any{"active": a}}))
	}
}

// The simulator child (bridge bench --sim-child) preloads the users the
// bench preloads into the store, serves them to the bridge's token, and
// ends when its parent closes stdin.
func TestSimChild(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- runSimChild(context.Background(), inR, outW) }()
	if _, err := inW.Write([]byte(`{"Users":3}` + "\n")); err != nil {
		t.Fatal(err)
	}
	var ready simChildReady
	if err := json.NewDecoder(outR).Decode(&ready); err != nil {
		t.Fatal(err)
	}
	if len(ready.Users) != 3 || ready.Users[2].ID != benchPreloadID(2) || ready.Users[2].Data[webflowdata.DataEmail] != benchUserName(2) {
		t.Fatalf("preloaded users: %+v", ready.Users)
	}
	req, _ := http.NewRequest("GET", ready.URL+"/v2/sites/"+webflowsim.DemoSiteID+"/users/"+benchPreloadID(1), nil)
	req.Header.Set("Authorization", "Bearer "+webflowsim.DemoSiteToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), benchUserName(1)) {
		t.Fatalf("GET a preloaded user from the child: %d %s", res.StatusCode, body)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the simulator child did not end when stdin closed")
	}
	if _, err := http.Get(ready.URL + "/v2/sites"); err == nil {
		t.Error("the simulator child still serves after it ended")
	}
}

// A bad spec is refused, not served.
func TestSimChildBadSpec(t *testing.T) {
	for _, spec := range []string{"not json\n", `{"Users":-1}` + "\n", ""} {
		if err := runSimChild(context.Background(), strings.NewReader(spec), io.Discard); err == nil {
			t.Errorf("spec %q: no error", spec)
		}
	}
}
