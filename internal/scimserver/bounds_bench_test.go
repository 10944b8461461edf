package scimserver

import (
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/webflowscim/bridge/internal/mapping"
)

// procStatusKiB reads a "VmRSS:"-style line of /proc/self/status, in KiB
// (0 where there is no procfs).
func procStatusKiB(field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// worstAcceptedFilter is the most expensive filter for the parser that
// CheckFilterBounds accepts, found by trying shapes at 2 KiB: units
// nested 10 deep, or-ed ((((((((((title pr)))))))))) or …, about 13 MB of
// allocation and 20 ms per parse (one condition, 2 KiB long: 0.1 MB).
func worstAcceptedFilter() string {
	unit := strings.Repeat("(", mapping.MaxFilterDepth) + "title pr" + strings.Repeat(")", mapping.MaxFilterDepth)
	var b strings.Builder
	b.WriteString(unit)
	for b.Len()+len(" or ")+len(unit) <= mapping.MaxFilterLength {
		b.WriteString(" or " + unit)
	}
	return b.String()
}

// BenchmarkFilterRSS reports the process's peak RSS while GET /Users is
// sent hostile filters, conc at a time, with the binary's GC target
// (GOGC 400). "accepted" is the worst filter within the bounds; "refused"
// is the 64 KiB nested-parentheses filter that took the old bridge from
// 18 MB to 571 MB (it is now answered 400 before parsing).
//
//	go test -run '^$' -bench FilterRSS -benchtime 40x ./internal/scimserver/
func BenchmarkFilterRSS(b *testing.B) {
	if procStatusKiB("VmRSS") == 0 {
		b.Skip("needs /proc/self/status")
	}
	old := debug.SetGCPercent(400)
	defer debug.SetGCPercent(old)
	nestedHalf := (64<<10 - len(`userName eq "x"`)) / 2
	for _, bc := range []struct {
		name   string
		filter string
		conc   int
	}{
		{"accepted-2KiB-depth10/conc=1", worstAcceptedFilter(), 1},
		{"accepted-2KiB-depth10/conc=8", worstAcceptedFilter(), 8},
		{"accepted-2KiB-depth10/conc=32", worstAcceptedFilter(), 32},
		{"refused-64KiB-nested/conc=8", strings.Repeat("(", nestedHalf) + `userName eq "x"` + strings.Repeat(")", nestedHalf), 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newBoundsFixture(b, nil)
			path := "/Users?filter=" + url.QueryEscape(bc.filter)
			want := f.do(b, boundsSiteA, "GET", path, nil).status
			runtime.GC()
			debug.FreeOSMemory()
			base := procStatusKiB("VmRSS")
			// Reset the peak (VmHWM) to the current RSS.
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for range bc.conc {
					wg.Go(func() {
						if a := f.do(b, boundsSiteA, "GET", path, nil); a.status != want {
							b.Errorf("status %d, want %d", a.status, want)
						}
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			peak := procStatusKiB("VmHWM")
			b.ReportMetric(float64(base)/1024, "base-RSS-MiB")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(want), "status")
		})
	}
}
