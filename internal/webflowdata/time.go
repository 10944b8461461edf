package webflowdata

import (
	"bytes"
	"fmt"
	"time"
)

// Time is a Webflow timestamp. On the wire it is ISO-8601 UTC, with or
// without fractional seconds, or null. The zero Time encodes as null.
type Time struct{ time.Time }

// wireTimeLayout is what real Webflow payloads carry: milliseconds, UTC.
const wireTimeLayout = "2006-01-02T15:04:05.000Z"

// NewTime returns t truncated to milliseconds in UTC, as Webflow stores it.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// MarshalJSON encodes the zero Time as null and others with milliseconds.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(wireTimeLayout) + `"`), nil
}

// UnmarshalJSON accepts null, "", and RFC 3339 with optional fractional seconds.
func (t *Time) UnmarshalJSON(b []byte) error { return t.decode(b, unmarshalWire) }

// decode is UnmarshalJSON with the JSON decoder as a parameter (the tests
// compare unmarshalWire with encoding/json's).
func (t *Time) decode(b []byte, unmarshal func([]byte, any) error) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	s, ok := plainString(b)
	if !ok {
		if err := unmarshal(b, &s); err != nil {
			return fmt.Errorf("webflow timestamp: %w", err)
		}
	}
	if s == "" {
		*t = Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("webflow timestamp %q: %w", s, err)
	}
	// Only years 0000-9999 survive MarshalJSON and a later decode (an
	// offset can push "9999-12-31T23:59:59-01:00" into year 10000).
	if y := v.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("webflow timestamp %q: year outside 0000-9999", s)
	}
	t.Time = v.UTC()
	return nil
}
