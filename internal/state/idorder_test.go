package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIDOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hex := func(n, digits int) []string {
		out := make([]string, n)
		for i := range out {
			b := make([]byte, digits)
			for j := range b {
				b[j] = "0123456789abcdef"[r.IntN(16)]
			}
			out[i] = string(b)
		}
		return out
	}
	seq := make([]string, 3000)
	for i := range seq {
		seq[i] = fmt.Sprintf("%024x", i+1)
	}
	r.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
	for _, tc := range []struct {
		name string
		ids  []string
	}{
		{"empty", nil},
		{"one", []string{"u1"}},
		{"short names", []string{"u2", "u10", "u1", "a", "B", "b"}},
		{"24 hex digits (Webflow's and the bridge's ids)", hex(5000, 24)},
		{"sequential, a long shared prefix", seq},
		{"32 hex digits", hex(500, 32)},
		{"1 hex digit", []string{"f", "0", "a", "9"}},
		{"upper-case hex sorts by bytes", []string{"0A", "0a", "09", "0B", "0b"}},
		{"mixed lengths", []string{"abc", "ab", "abcd", "b", "a0"}},
		{"33 hex digits", hex(50, 33)},
		{"not hex", []string{"00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000001"}},
		{"multi-byte UTF-8", []string{"é", "e", "z", "ä"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order := idOrder(tc.ids)
			got := make([]string, len(order))
			for i, p := range order {
				got[i] = tc.ids[p]
			}
			want := slices.Clone(tc.ids)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("order %v\ngot  %v\nwant %v", order, got, want)
			}
		})
	}
}

func BenchmarkIDOrder(b *testing.B) {
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x%08x", rand.Uint64(), rand.Uint32())
	}
	b.Run("idOrder", func(b *testing.B) {
		for b.Loop() {
			idOrder(ids)
		}
	})
	b.Run("slices.Sort", func(b *testing.B) {
		c := make([]string, len(ids))
		for b.Loop() {
			copy(c, ids)
			slices.Sort(c)
		}
	})
}
