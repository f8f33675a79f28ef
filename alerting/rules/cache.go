package rules

import (
	"fmt"
	"time"
)

// Recorded series of the cache group: per-tier lookups and hit ratio.
const (
	RecCacheTierLookups  = "vitals:cache_tier_lookups:rate5m"
	RecCacheTierHitRatio = "vitals:cache_tier_hit_ratio:rate5m"
	RecCacheHitRatio     = "vitals:cache_hit_ratio:rate5m"
)

func (b *builder) cache() []Rule {
	c, ct := b.by("cache"), b.by("cache", "tier")
	on, ont := b.on("cache"), b.on("cache", "tier")
	rules := []Rule{
		{Record: RecCacheTierLookups, Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) + sum %[1]s (rate(%[3]s[5m]))", ct, b.s(CacheHits), b.s(CacheMisses))},
		{Record: RecCacheTierHitRatio, Expr: fmt.Sprintf("sum %s (rate(%s[5m])) / %s", ct, b.s(CacheHits), RecCacheTierLookups)},
		{Record: RecCacheHitRatio, Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / %[3]s sum without (tier) (%[4]s{tier=\"l1\"})",
			c, b.s(CacheHits), on, RecCacheTierLookups)},
	}
	minRate := b.t("min-rate")
	const products = "products"
	hitsMisses := func(tier string, hits, misses float64, n int) []Series {
		return []Series{
			series(CacheHits, counter(hits, n), "cache", products, "tier", tier),
			series(CacheMisses, counter(misses, n), "cache", products, "tier", tier),
		}
	}
	tierRatio := func(tier, threshold string, summary string) Rule {
		t := b.p.Value(threshold)
		return Rule{Alert: "VitalsCache" + map[string]string{"l1": "L1", "l2": "L2"}[tier] + "HitRatioLow", Severity: Warning, For: 15 * time.Minute,
			Expr:    fmt.Sprintf("%s{tier=%q} < %s and %s %s > %s", RecCacheTierHitRatio, tier, num(t), ont, RecCacheTierLookups, minRate),
			Summary: summary + " of cache {{ $labels.cache }} below " + pct(t),
			Description: "Cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) answered less than " + pct(t) +
				" of its {{ $labels.tier }} lookups from {{ $labels.tier }} over 5 minutes, for 15 minutes.",
			Test: &Case{EvalAt: 25 * time.Minute, Labels: map[string]string{"cache": products, "tier": tier},
				Series: func(fire bool) []Series {
					hits := 100 * t
					return hitsMisses(tier, pick(fire, hits-1, hits), pick(fire, 100-hits+1, 100-hits), 30)
				}}}
	}
	hit := b.p.Value("cache-hit-ratio")
	storm, stormMin := b.p.Value("eviction-storm"), b.p.Value("eviction-min-rate")
	l2err := b.p.Value("cache-l2-error-ratio")
	l2p99 := b.p.Value("cache-l2-latency-p99")
	drop := b.p.Value("compression-drop")
	loadErr := b.p.Value("cache-load-error-ratio")
	score := b.p.Value("cache-score")
	evict := b.s(CacheEvictions)
	l2 := b.s(CacheLookup, `answered_by="l2"`)
	raw, stored := b.s(CacheRawBytes, `tier="l2"`), b.s(CacheStoredBytes, `tier="l2"`)
	return append(rules,
		tierRatio("l1", "cache-l1-hit-ratio", "L1 hit ratio"),
		tierRatio("l2", "cache-l2-hit-ratio", "L2 hit ratio"),
		Rule{Alert: "VitalsCacheHitRatioLow", Severity: Warning, For: 15 * time.Minute,
			Expr:        fmt.Sprintf("%s < %s and %s sum without (tier) (%s{tier=\"l1\"}) > %s", RecCacheHitRatio, num(hit), on, RecCacheTierLookups, minRate),
			Summary:     "End-to-end hit ratio of cache {{ $labels.cache }} below " + pct(hit),
			Description: "Cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) sent more than " + pct(1-hit) + " of its lookups to the origin over 5 minutes, for 15 minutes.",
			Test: &Case{EvalAt: 25 * time.Minute, Labels: map[string]string{"cache": products},
				Series: func(fire bool) []Series {
					// 60 L1 hits, 40 L1 misses; the L2 answers just enough.
					l2hits := 100*hit - 60
					return append(hitsMisses("l1", 60, 40, 30), hitsMisses("l2", pick(fire, l2hits-1, l2hits), pick(fire, 40-l2hits+1, 40-l2hits), 30)...)
				}}},
		Rule{Alert: "VitalsCacheEvictionStorm", Severity: Warning, For: 10 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[10m])) > %[3]s * sum %[1]s (rate(%[2]s[10m] offset 1h)) and sum %[1]s (rate(%[2]s[10m])) > %[4]s",
				b.by("cache", "tier", "cause"), evict, num(storm), num(stormMin)),
			Summary: "Eviction storm in cache {{ $labels.cache }} ({{ $labels.tier }}, cause {{ $labels.cause }})",
			Description: "Cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) evicts {{ $labels.tier }} entries for cause {{ $labels.cause }} more than " +
				num(storm) + " times as often as an hour earlier (and more than " + num(stormMin) + " per second), for 10 minutes.",
			Test: &Case{EvalAt: 90 * time.Minute, Labels: map[string]string{"cache": products, "tier": "l1", "cause": "size"},
				Series: func(fire bool) []Series {
					base := 60 * stormMin // per minute: the floor
					after := base * storm
					return []Series{series(CacheEvictions, counter2(base, 60, pick(fire, after+60, after), 30), "cache", products, "tier", "l1", "cause", "size")}
				}}},
		Rule{Alert: "VitalsCacheL2Errors", Severity: Warning, For: 5 * time.Minute,
			Expr:    fmt.Sprintf("sum %s (rate(%s[5m])) / %s > %s", ct, b.s(CacheErrors, `tier="l2"`), RecCacheTierLookups, num(l2err)),
			Summary: "L2 of cache {{ $labels.cache }} fails more than " + pct(l2err) + " of lookups",
			Description: "The L2 tier of cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) returned errors for more than " + pct(l2err) +
				" of its lookups over 5 minutes, for 5 minutes: lookups fall through to the origin.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"cache": products, "tier": "l2"},
				Series: func(fire bool) []Series {
					e := 100 * l2err
					return append(hitsMisses("l2", 50, 50, 25), series(CacheErrors, counter(pick(fire, e+1, e), 25), "cache", products, "tier", "l2"))
				}}},
		Rule{Alert: "VitalsCacheL2LatencyHigh", Severity: Warning, For: 10 * time.Minute,
			Expr: fmt.Sprintf("histogram_quantile(0.99, sum %[1]s (rate(%[2]s[5m]))) > %[3]s and %[4]s sum %[1]s (histogram_count(rate(%[2]s[5m]))) > %[5]s",
				c, l2, num(l2p99), on, minRate),
			Summary:     "p99 of lookups answered by the L2 of cache {{ $labels.cache }} above " + dur(l2p99),
			Description: "Lookups of cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) answered by the L2 tier took more than " + dur(l2p99) + " at the 99th percentile over 5 minutes, for 10 minutes.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"cache": products},
				Series: func(fire bool) []Series {
					idx := histBelow(l2p99)
					if fire {
						idx = histAbove(l2p99)
					}
					return []Series{series(CacheLookup, hist(idx, 60, 25), "cache", products, "answered_by", "l2")}
				}}},
		Rule{Alert: "VitalsCacheCompressionRatioDegraded", Severity: Warning, For: 30 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[30m])) / sum %[1]s (rate(%[3]s[30m])) < %[4]s * (sum %[1]s (rate(%[2]s[30m] offset 1d)) / sum %[1]s (rate(%[3]s[30m] offset 1d)))",
				c, raw, stored, num(drop)),
			Summary: "L2 compression ratio of cache {{ $labels.cache }} fell below " + pct(drop) + " of yesterday's",
			Description: "The L2 tier of cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) stores more than " + num(round(1/drop)) +
				" times the bytes per raw byte it stored a day earlier, for 30 minutes: values compress worse (new payload shape?) and the L2 holds fewer entries.",
			Test: &Case{EvalAt: 1510 * time.Minute, Labels: map[string]string{"cache": products},
				Series: func(fire bool) []Series {
					// Ratio 3 for a day, then raw/stored just below or at
					// drop*3 (the quiet side keeps a hair of margin for
					// floating point).
					st := 3000 / (3 * drop)
					return []Series{
						series(CacheRawBytes, counter(3000, 1520), "cache", products, "tier", "l2"),
						series(CacheStoredBytes, counter2(1000, 1440, pick(fire, st+2, st-1), 80), "cache", products, "tier", "l2"),
					}
				}}},
		Rule{Alert: "VitalsCacheLoadErrors", Severity: Warning, For: 10 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / sum %[1]s (rate(%[3]s[5m])) > %[4]s and %[5]s sum %[1]s (rate(%[3]s[5m])) > %[6]s",
				c, b.s(CacheLoads, `result="failure"`), b.s(CacheLoads), num(loadErr), on, minRate),
			Summary:     "Origin loads of cache {{ $labels.cache }} fail more than " + pct(loadErr) + " of the time",
			Description: "More than " + pct(loadErr) + " of the origin loads of cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) failed over 5 minutes, for 10 minutes: callers see errors, not just misses.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"cache": products},
				Series: func(fire bool) []Series {
					f := 100 * loadErr
					f = pick(fire, f+1, f)
					return []Series{
						series(CacheLoads, counter(100-f, 25), "cache", products, "result", "success"),
						series(CacheLoads, counter(f, 25), "cache", products, "result", "failure"),
					}
				}}},
		Rule{Alert: "VitalsCacheScoreLow", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("%s < %s", b.s(CacheScore), num(score)),
			Summary:     "Health score of cache {{ $labels.cache }} below " + num(score),
			Description: "The health score of cache {{ $labels.cache }} on {{ $labels.instance }} (job {{ $labels.job }}) has been below " + num(score) + " of 100 for 10 minutes; its factors (vitals_cache_score_factor, /metrics/cache) say which part is weak.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"cache": products},
				Series: func(fire bool) []Series {
					return []Series{series(CacheScore, gauge(pick(fire, score-1, score), 20), "cache", products)}
				}}},
	)
}
