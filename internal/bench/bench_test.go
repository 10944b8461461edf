package bench

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
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
