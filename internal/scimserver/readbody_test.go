package scimserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBodyAsReadAll: readBody answers what io.ReadAll answers, whatever
// the Content-Length claims, within the limit and past it.
func TestReadBodyAsReadAll(t *testing.T) {
	const limit = 2048
	for _, tc := range []struct {
		name string
		body string
		cl   int64
	}{
		{"empty", "", 0},
		{"exact", strings.Repeat("a", 700), 700},
		{"unknown length", strings.Repeat("b", 1500), -1},
		{"claims less", strings.Repeat("c", 900), 10},
		{"claims more", strings.Repeat("d", 30), 600},
		{"at the limit", strings.Repeat("e", limit), limit},
		{"past the limit", strings.Repeat("f", limit+1), limit + 1},
		{"past the limit, claims less", strings.Repeat("g", 3*limit), 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(tc.body)), limit))
			for _, r := range []io.Reader{strings.NewReader(tc.body), iotest.OneByteReader(strings.NewReader(tc.body))} {
				got, gerr := readBody(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(r), limit), tc.cl, limit)
				var wm, gm *http.MaxBytesError
				if !bytes.Equal(got, want) || (werr == nil) != (gerr == nil) || errors.As(werr, &wm) != errors.As(gerr, &gm) {
					t.Errorf("got %d bytes, %v; want %d bytes, %v", len(got), gerr, len(want), werr)
				}
				if got == nil {
					t.Error("got a nil body; io.ReadAll answers an empty one")
				}
			}
		})
	}
}
