package webflowdata

import (
	"io"
	"sync"

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
// reads the first JSON value of r and leaves what follows it. The decoder
// and its read buffer come from pool when there is one (a Client's: a
// decoder and its read buffer were about a fifth of the bytes one Webflow
// call allocated).
func decodeWire(pool *sync.Pool, r io.Reader, v any) error {
	opts := jsonv1.DefaultOptionsV1()
	var d *jsontext.Decoder
	if pool != nil {
		d, _ = pool.Get().(*jsontext.Decoder)
	}
	if d == nil {
		d = jsontext.NewDecoder(r, opts)
	} else {
		d.Reset(r, opts)
	}
	err := jsonv2.UnmarshalDecode(d, v, opts)
	// A decoder that read a large answer (a page of users) keeps a large
	// buffer: only those that read at most one user's size go back.
	if pool != nil && d.InputOffset() <= maxPooledDecode {
		d.Reset(noInput{}) // drop the reference to r (a response body)
		pool.Put(d)
	}
	return err
}

// maxPooledDecode bounds what a pooled decoder has read (and so roughly
// its buffer): a user, an error body, a site, never a page of users.
const maxPooledDecode = 16 << 10

// noInput is the empty reader a decoder is reset to before it is pooled.
type noInput struct{}

func (noInput) Read([]byte) (int, error) { return 0, io.EOF }

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
