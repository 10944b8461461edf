package auditring

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestRingKeepsTheLastNewestFirst(t *testing.T) {
	tests := []struct {
		size, added int
		want        []string
	}{
		{size: 3, added: 0, want: []string{}},
		{size: 3, added: 2, want: []string{"a1", "a0"}},
		{size: 3, added: 3, want: []string{"a2", "a1", "a0"}},
		{size: 3, added: 7, want: []string{"a6", "a5", "a4"}},
		{size: 0, added: 2, want: []string{"a1"}}, // at least one
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d in %d", tt.added, tt.size), func(t *testing.T) {
			r := New(tt.size)
			for i := range tt.added {
				r.Add(Event{Action: fmt.Sprintf("a%d", i)})
			}
			got := []string{}
			for _, e := range r.Last() {
				got = append(got, e.Action)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Last() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRingConcurrent(t *testing.T) {
	r := New(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				r.Add(Event{Action: fmt.Sprint(g, i)})
				_ = r.Last()
			}
		}()
	}
	wg.Wait()
	if n := len(r.Last()); n != 50 {
		t.Errorf("after 800 adds the ring holds %d, want 50", n)
	}
}
