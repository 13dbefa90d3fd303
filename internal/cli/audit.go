package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/registry"
)

// auditCmd is 'lantern audit'.
type auditCmd struct {
	clientFlags
	Model   string `help:"Only events of this model." placeholder:"NAME"`
	Version int64  `help:"Only events of this version (with --model)." placeholder:"N"`
	Action  string `help:"Only this action (alias.set) or family (alias, version, model)." placeholder:"ACTION"`
	Actor   string `help:"Only events by this token name." placeholder:"NAME"`
	Since   string `help:"Only events after this: a duration back from now (24h, 7d) or a time (2025-03-01T00:00:00Z)." placeholder:"WHEN"`
	Until   string `help:"Only events before this: a duration back from now or a time." placeholder:"WHEN"`
	Limit   int    `help:"Show at most this many events, newest first." default:"50" placeholder:"N"`
}

func (c *auditCmd) Run(ctx context.Context, g *Globals) error {
	if c.Limit <= 0 {
		return fmt.Errorf("--limit must be positive, not %d", c.Limit)
	}
	now := time.Now()
	since, err := parseWhen("--since", c.Since, now)
	if err != nil {
		return err
	}
	until, err := parseWhen("--until", c.Until, now)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	q := registry.AuditQuery{
		Model: c.Model, Version: c.Version, Action: c.Action, Actor: c.Actor,
		Since: since, Until: until, Limit: min(c.Limit, 1000),
	}
	events := []*registry.Event{}
	for ev, err := range cl.AuditEvents(ctx, q) {
		if err != nil {
			return c.explain(err)
		}
		events = append(events, ev)
		if len(events) == c.Limit {
			break
		}
	}
	if c.Output == "json" {
		return printJSON(g.stdout, events)
	}
	if len(events) == 0 {
		fmt.Fprintln(g.stderr, "no matching events")
		return nil
	}
	t := newTable(g.stdout, "TIME", "ACTOR", "ACTION", "MODEL", "VERSION", "DETAILS", "REASON")
	for _, ev := range events {
		version := "-"
		if ev.Version > 0 {
			version = strconv.FormatInt(ev.Version, 10)
		}
		t.row(ev.Time.Local().Format("2006-01-02 15:04:05"), orDash(ev.Actor), ev.Action, orDash(ev.Model), version,
			orDash(truncate(kv(ev.Details), 60)), orDash(truncate(ev.Reason, 60)))
	}
	return t.flush()
}

// parseWhen reads a time as RFC 3339, or as a duration back from now
// ("90m", "24h", and "7d" for days).
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * float64(24*time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: give a duration back from now (24h, 7d) or a time (2025-03-01T00:00:00Z)", flag, s)
}
