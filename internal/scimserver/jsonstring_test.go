package scimserver

import (
	"encoding/json"
	"testing"
)

// FuzzJSONStringAsUnmarshal: jsonString answers what json.Unmarshal into a
// string answers, for any bytes (its seeds are the table of cases).
func FuzzJSONStringAsUnmarshal(f *testing.F) {
	for _, s := range []string{
		`"replace"`, `"Replace"`, `"active"`, `""`, `"a\"b"`, `"\u0041dd"`, `"é"`, "\"\x01\"", `"tab	"`,
		`null`, `5`, `true`, `{}`, `[]`, ` "padded" `, `"unterminated`, `"`, ``, `"a""b"`, "\"\xff\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		werr := json.Unmarshal(raw, &want)
		got, ok := jsonString(raw)
		if ok != (werr == nil) || (ok && got != want) {
			t.Errorf("jsonString(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, ok, want, werr)
		}
	})
}
