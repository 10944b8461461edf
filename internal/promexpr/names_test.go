package promexpr

import (
	"slices"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
		err        string
	}{
		{name: "bare", expr: "up", want: []string{"up"}},
		{name: "selector", expr: `bridge_ready{instance="a:9090"}`, want: []string{"bridge_ready"}},
		{name: "label names and values are not metrics", expr: `x{site=~"a|b", status!="401", le="0.5"}`, want: []string{"x"}},
		{name: "function and range", expr: `rate(bridge_scim_requests_total[5m])`, want: []string{"bridge_scim_requests_total"}},
		{name: "aggregation by before", expr: `sum by (site, status) (rate(a_total[1m]))`, want: []string{"a_total"}},
		{name: "aggregation by after", expr: `sum(rate(a_total[1m])) by (le)`, want: []string{"a_total"}},
		{name: "aggregation without", expr: `max without (instance, pod) (b)`, want: []string{"b"}},
		{name: "upper-case aggregation", expr: `SUM BY (site) (c)`, want: []string{"c"}},
		{name: "histogram quantile keeps the suffix", expr: `histogram_quantile(0.95, sum by (le, operation) (rate(d_seconds_bucket{site=~"$site"}[$__rate_interval])))`, want: []string{"d_seconds_bucket"}},
		{name: "binary with on and group_left", expr: `e * on (site) group_left (version) f`, want: []string{"e", "f"}},
		{name: "group_left without labels", expr: `e * on (site) group_left f`, want: []string{"e", "f"}},
		{name: "ignoring", expr: `g / ignoring (kind) h`, want: []string{"g", "h"}},
		{name: "set operators and bool", expr: `i > bool 0 or j unless k and l`, want: []string{"i", "j", "k", "l"}},
		{name: "numbers and durations", expr: `m > 1e3 and n < 0x1F and o offset 1h30m > -2.5e-3`, want: []string{"m", "n", "o"}},
		{name: "inf and nan", expr: `p > Inf or q != NaN`, want: []string{"p", "q"}},
		{name: "strings with parentheses and names", expr: `label_replace(r, "dst", "$1 sum(x)", "src", "(.*)")`, want: []string{"r"}},
		{name: "escaped quote in a matcher", expr: `s{a="x\"} y"}`, want: []string{"s"}},
		{name: "grafana variables", expr: `t[$__rate_interval] / ${divisor} * $factor`, want: []string{"t"}},
		{name: "subquery", expr: `max_over_time(rate(u[1m])[10m:30s])`, want: []string{"u"}},
		{name: "at modifier", expr: `v @ start() + w @ 1700000000`, want: []string{"v", "w"}},
		{name: "name inside braces", expr: `{__name__="bridge_ready", instance="x"}`, want: []string{"bridge_ready"}},
		{name: "colon names", expr: `job:bridge_requests:rate5m`, want: []string{"job:bridge_requests:rate5m"}},
		{name: "time() is no metric", expr: `time() - x_timestamp_seconds`, want: []string{"x_timestamp_seconds"}},
		{name: "comments", expr: "y # not_a_metric here\n+ z", want: []string{"y", "z"}},
		{name: "each name once", expr: `a / a`, want: []string{"a"}},
		{name: "topk with a parameter", expr: `topk(5, sum by (endpoint) (calls_total))`, want: []string{"calls_total"}},
		{name: "regex on __name__ is refused", expr: `{__name__=~"bridge_.*"}`, err: "pattern"},
		{name: "unclosed brace", expr: `a{site="x"`, err: "unclosed"},
		{name: "unclosed string", expr: `a{site="x}`, err: "unclosed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MetricNames(tt.expr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("MetricNames(%q) = %v, %v; want an error with %q", tt.expr, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("MetricNames(%q): %v", tt.expr, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestSeriesNames(t *testing.T) {
	tests := []struct {
		family, typ string
		want        []string
	}{
		{"h_seconds", "histogram", []string{"h_seconds_bucket", "h_seconds_sum", "h_seconds_count"}},
		{"s_seconds", "summary", []string{"s_seconds", "s_seconds_sum", "s_seconds_count"}},
		{"c_total", "counter", []string{"c_total"}},
		{"g", "gauge", []string{"g"}},
		// A counter whose name ends in _count is read by that name only.
		{"x_count", "counter", []string{"x_count"}},
	}
	for _, tt := range tests {
		if got := SeriesNames(tt.family, tt.typ); !slices.Equal(got, tt.want) {
			t.Errorf("SeriesNames(%q, %q) = %q, want %q", tt.family, tt.typ, got, tt.want)
		}
	}
}
