package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/chainwatch/chainwatch/query"
	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/sinks"
)

// Alert names: one per kind of comparison, so that routes and silences can
// tell production drift from evaluation skew.
const (
	AlertDrift = "ChainwatchDrift"
	AlertSkew  = "ChainwatchSkew"
)

// resolveTicks is how many schedule periods a firing alert stays active in
// Alertmanager without a refresh (its endsAt): a worker that dies lets its
// alerts resolve by themselves after that, rather than fire forever.
const resolveTicks = 3

// alertLabels are an alert's identity: stable across ticks, so Alertmanager
// groups, deduplicates and silences it.
func alertLabels(m Monitor) map[string]string {
	name := AlertDrift
	if m.Reference.Kind() == "skew" {
		name = AlertSkew
	}
	l := maps.Clone(m.Labels)
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, map[string]string{
		"alertname": name, "app": orAll(m.Selector.App), "chain": orAll(m.Selector.Chain), "monitor": m.Name,
		"feature": m.Feature, "detector": m.Detector, "severity": m.Severity, "kind": m.Reference.Kind(),
	})
	return l
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// fingerprint identifies a label set in the alert history.
func fingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "%s\xff%s\xff", k, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// alertFor builds the alert of a run: firing (endsAt resolveTicks schedules
// ahead) or resolved (endsAt now). The annotations say what was compared,
// the verdict, and how to see it: the ClickHouse query over the monitor's
// results, and the Grafana panel when grafanaURL is set.
func alertFor(m Monitor, res schemas.DetectorResult, firing bool, since, now time.Time, grafanaURL string) sinks.Alert {
	a := sinks.Alert{Labels: alertLabels(m), StartsAt: since}
	if firing {
		a.EndsAt = now.Add(resolveTicks * m.Schedule)
	} else {
		a.EndsAt = now
	}
	p := "none"
	if res.PValue != nil {
		p = strconv.FormatFloat(*res.PValue, 'g', 4, 64)
	}
	what := "drifted from " + res.Reference
	if m.Reference.Kind() == "skew" {
		what = "is skewed from " + res.Reference
	}
	summary := fmt.Sprintf("%s of %s %s: %s statistic %.4g, p-value %s (threshold %.4g), %d reference vs %d current rows",
		m.Feature, orAll(m.Selector.App), what, m.Detector, res.Statistic, p, res.Threshold, res.NRef, res.NCur)
	if !firing {
		summary = fmt.Sprintf("%s of %s is back in line with %s (%s p-value %s)", m.Feature, orAll(m.Selector.App), res.Reference, m.Detector, p)
	}
	a.Annotations = map[string]string{
		"summary":      summary,
		"statistic":    strconv.FormatFloat(res.Statistic, 'g', 6, 64),
		"p_value":      p,
		"threshold":    strconv.FormatFloat(res.Threshold, 'g', 6, 64),
		"n_ref":        strconv.Itoa(int(res.NRef)),
		"n_cur":        strconv.Itoa(int(res.NCur)),
		"current_from": res.CurStart.Format(time.RFC3339),
		"current_to":   res.CurEnd.Format(time.RFC3339),
		"reference":    res.Reference,
		"tick":         res.Tick.Format(time.RFC3339),
		"query":        query.RunsQueryText(m.Name),
	}
	if grafanaURL != "" {
		if u, err := url.Parse(grafanaURL); err == nil {
			q := u.Query()
			q.Set("var-monitor", m.Name)
			u.RawQuery = q.Encode()
			a.GeneratorURL = u.String()
		}
	}
	return a
}
