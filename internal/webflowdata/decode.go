package webflowdata

import (
	"io"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Webflow's answers are decoded with the encoding/json/v2 engine
// (go-json-experiment/json) set to encoding/json's semantics
// (DefaultOptionsV1: names in any case, duplicate names, invalid UTF-8,
// the same methods called), as state.DecodeStored decodes the bridge's own
// records: it reads a document in one pass, where encoding/json scans it
// first and then decodes it, and a User's UnmarshalJSON decoded it twice
// more (TestWireDecodeAsEncodingJSON, FuzzWireDecodeAsEncodingJSON).

// unmarshalWire is json.Unmarshal for Webflow payloads.
func unmarshalWire(b []byte, v any) error { return jsonv2.Unmarshal(b, v, jsonv1.DefaultOptionsV1()) }

// decodeWire is json.NewDecoder(r).Decode(v) for Webflow payloads: it
// reads the first JSON value of r and leaves what follows it.
func decodeWire(r io.Reader, v any) error {
	opts := jsonv1.DefaultOptionsV1()
	return jsonv2.UnmarshalDecode(jsontext.NewDecoder(r, opts), v, opts)
}

// plainString returns the value of a JSON string without escapes, control
// characters or non-ASCII bytes (every timestamp and slug Webflow sends),
// which is its bytes between the quotes; ok is false for anything else.
func plainString(b []byte) (s string, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}
