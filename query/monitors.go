package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// MonitorSummary is one monitor's runs in MonitorRuns.
type MonitorSummary struct {
	Monitor          string
	Runs             uint64
	DriftRuns        uint64 // runs that found drift
	InsufficientData uint64 // runs with too few samples for a verdict
	Errors           uint64 // runs that failed
	LastTick         time.Time
	// LastPValue is the p-value of the latest run that had one (nil when
	// none had: distances without a p-value, or no verdict yet).
	LastPValue *float64
}

// MonitorRuns summarises the monitor runs sel selects (table
// DetectorResults: by tick), once per (monitor, tick) (FINAL), one row per
// monitor in name order.
func (r *Reader) MonitorRuns(ctx context.Context, sel Selector) ([]MonitorSummary, error) {
	where, args, err := sel.Where(DetectorResults)
	if err != nil {
		return nil, err
	}
	q := `SELECT monitor, count(), countIf(drift = 1), countIf(status = 'insufficient_data'), countIf(status = 'error'),
    max(tick), argMax(p_value, tick)
FROM detector_results FINAL ` + where + " GROUP BY monitor ORDER BY monitor"
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying monitor runs: %w", err)
	}
	defer rows.Close()
	var out []MonitorSummary
	for rows.Next() {
		var s MonitorSummary
		if err := rows.Scan(&s.Monitor, &s.Runs, &s.DriftRuns, &s.InsufficientData, &s.Errors, &s.LastTick, &s.LastPValue); err != nil {
			return nil, fmt.Errorf("reading monitor runs: %w", err)
		}
		s.LastTick = s.LastTick.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading monitor runs: %w", err)
	}
	return out, nil
}

// DetectorResults returns the runs sel selects (table DetectorResults),
// of one monitor ("" for every monitor), once per (monitor, tick) (FINAL),
// newest tick first, at most limit of them (0: all).
func (r *Reader) DetectorResults(ctx context.Context, sel Selector, monitor string, limit int) ([]schemas.DetectorResult, error) {
	if monitor != "" {
		sel = sel.with(Eq("monitor", monitor))
	}
	where, args, err := sel.Where(DetectorResults)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + strings.Join(schemas.DetectorResultColumns(), ", ") + " FROM detector_results FINAL " + where + " ORDER BY tick DESC, monitor"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying detector results: %w", err)
	}
	defer rows.Close()
	var out []schemas.DetectorResult
	for rows.Next() {
		var d schemas.DetectorResult
		var drift uint8
		if err := rows.Scan(&d.Monitor, &d.MonitorVersion, &d.Tick, &d.App, &d.Chain, &d.Feature, &d.Detector, &d.Kind, &d.Status,
			&d.Statistic, &d.PValue, &d.Threshold, &drift, &d.NRef, &d.NCur, &d.RefStart, &d.RefEnd, &d.CurStart, &d.CurEnd,
			&d.Reference, &d.Params, &d.DurationMS, &d.Error, &d.Worker, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("reading detector results: %w", err)
		}
		d.Drift = drift == 1
		for _, t := range []*time.Time{&d.Tick, &d.RefStart, &d.RefEnd, &d.CurStart, &d.CurEnd, &d.CreatedAt} {
			*t = t.UTC()
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading detector results: %w", err)
	}
	return out, nil
}

// LastRun returns a monitor's run with the newest tick, and false when it
// never ran.
func (r *Reader) LastRun(ctx context.Context, monitor string) (schemas.DetectorResult, bool, error) {
	rs, err := r.DetectorResults(ctx, Selector{}, monitor, 1)
	if err != nil || len(rs) == 0 {
		return schemas.DetectorResult{}, false, err
	}
	return rs[0], true, nil
}

// RunsQueryText is a query a person can paste into clickhouse-client to
// see a monitor's last 50 runs (an alert's "query" annotation). It is text
// for people, never run by chainwatch; monitor names are checked to hold
// no quotes, and the literal is escaped anyway.
func RunsQueryText(monitor string) string {
	lit := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(monitor) + "'"
	return "SELECT tick, statistic, p_value, drift, n_ref, n_cur FROM detector_results FINAL WHERE monitor = " + lit + " ORDER BY tick DESC LIMIT 50"
}

// Alert is one alert in FiringAlerts: the state of one fingerprint.
type Alert struct {
	Fingerprint string
	Monitor     string
	Labels      map[string]string
	Annotations map[string]string // of the latest event
	StartsAt    time.Time         // the fingerprint's first event
	LastEvent   time.Time
}

// FiringAlerts returns the alerts whose latest event before sel.To (zero:
// ever) is "firing" (table Alerts; sel.From is not used: an alert firing
// at To may have started at any time), ordered by fingerprint.
func (r *Reader) FiringAlerts(ctx context.Context, sel Selector) ([]Alert, error) {
	sel.From = time.Time{}
	where, args, err := sel.Where(Alerts)
	if err != nil {
		return nil, err
	}
	q := `SELECT fingerprint, argMax(monitor, time), argMax(label_keys, time), argMax(label_values, time), argMax(annotations, time),
    min(time), max(time), argMax(state, time) AS last
FROM alerts ` + where + " GROUP BY fingerprint HAVING last = 'firing' ORDER BY fingerprint"
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var a Alert
		var keys, vals []string
		var ann, state string
		if err := rows.Scan(&a.Fingerprint, &a.Monitor, &keys, &vals, &ann, &a.StartsAt, &a.LastEvent, &state); err != nil {
			return nil, fmt.Errorf("reading alerts: %w", err)
		}
		a.Labels, a.Annotations = labels(keys, vals), annotations(ann)
		a.StartsAt, a.LastEvent = a.StartsAt.UTC(), a.LastEvent.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	return out, nil
}

// AlertHistory returns the alert events sel selects (table Alerts: by the
// event's time), newest first (then by fingerprint), at most limit of them
// (0: all).
func (r *Reader) AlertHistory(ctx context.Context, sel Selector, limit int) ([]schemas.AlertEvent, error) {
	where, args, err := sel.Where(Alerts)
	if err != nil {
		return nil, err
	}
	q := "SELECT time, monitor, tick, state, fingerprint, label_keys, label_values, annotations FROM alerts " + where + " ORDER BY time DESC, fingerprint"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := r.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying alert history: %w", err)
	}
	defer rows.Close()
	var out []schemas.AlertEvent
	for rows.Next() {
		var e schemas.AlertEvent
		var keys, vals []string
		var ann string
		if err := rows.Scan(&e.Time, &e.Monitor, &e.Tick, &e.State, &e.Fingerprint, &keys, &vals, &ann); err != nil {
			return nil, fmt.Errorf("reading alert history: %w", err)
		}
		e.Time, e.Tick = e.Time.UTC(), e.Tick.UTC()
		e.Labels, e.Annotations = labels(keys, vals), annotations(ann)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert history: %w", err)
	}
	return out, nil
}

func labels(keys, vals []string) map[string]string {
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(vals) {
			m[k] = vals[i]
		}
	}
	return m
}

// annotations decodes the stored JSON object; a malformed one reads as
// empty.
func annotations(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}
