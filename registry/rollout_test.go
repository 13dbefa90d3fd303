package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRolloutLifecycle(t *testing.T) {
	ctx := WithActor(context.Background(), "monitor")
	s := newService(t, backends[0].open(t)(), nil)
	mustCreate(t, s, "m")
	register(t, s, "m", "production") // v1
	register(t, s, "m")               // v2

	bad := []RolloutSpec{
		{Version: 2, Steps: []float64{0, 50}},
		{Version: 2, Steps: []float64{50, 20}},
		{Version: 2, Steps: []float64{150}},
		{Version: 2, Interval: time.Nanosecond},
		{Version: 2, StickyKey: "bad key"},
		{Version: 9},
		{Version: 1},
	}
	for _, spec := range bad {
		if _, err := s.StartRollout(ctx, "m", spec); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
	if _, err := s.StartRollout(ctx, "nope", RolloutSpec{Version: 2}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
	m, err := s.StartRollout(ctx, "m", RolloutSpec{Version: 2, Steps: []float64{10, 50}, StickyKey: "X-District"})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Rollout
	if r.Phase != PhaseProgressing || r.Stable != 1 || r.Weight() != 10 || len(r.Steps) != 3 || r.Steps[2] != 100 {
		t.Fatalf("rollout %+v", r)
	}
	if rt := m.Route(); rt.Canary != 2 || rt.Weight != 10 || rt.StickyKey != "X-District" {
		t.Fatalf("route %+v", rt)
	}
	if _, err := s.StartRollout(ctx, "m", RolloutSpec{Version: 2}); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("second rollout: %v", err)
	}

	decide := func(action, reason string) *Model {
		t.Helper()
		m, err := s.DecideRollout(WithReason(ctx, reason), "m", r.ID, Decision{Action: action, Reason: reason, Evidence: map[string]float64{"n": 1}})
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return m
	}
	decide(DecisionHold, "only 3 of 100 requests")
	m = decide(DecisionHold, "only 3 of 100 requests") // the same hold is not recorded twice
	if n := len(m.Rollout.History); n != 2 {
		t.Fatalf("history %d entries", n)
	}
	m = decide(DecisionAdvance, "error rate 0.1% vs 0.2%")
	if m.Rollout.Weight() != 50 || m.Rollout.Holding {
		t.Fatalf("after advance %+v", m.Rollout)
	}
	decide(DecisionAdvance, "fine")
	if _, err := s.DecideRollout(ctx, "m", r.ID, Decision{Action: DecisionAdvance}); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("advance past the last step: %v", err)
	}
	m = decide(DecisionPromote, "fine at 100%")
	if m.Aliases["production"] != 2 || m.Rollout.Phase != PhasePromoted || m.Route().Canary != 0 {
		t.Fatalf("promotion: aliases %v, rollout %+v", m.Aliases, m.Rollout)
	}
	if _, err := s.DecideRollout(ctx, "m", r.ID, Decision{Action: DecisionRollback}); !errors.Is(err, ErrNoRollout) {
		t.Fatalf("decision on a finished rollout: %v", err)
	}
	evs, _, _ := s.Audit(ctx, AuditQuery{Model: "m", Action: "rollout"})
	if len(evs) != 5 || evs[0].Action != "rollout.promote" || evs[0].Reason != "fine at 100%" || evs[0].Details["previous"] != "1" {
		t.Fatalf("audit: %d events, newest %+v", len(evs), evs[0])
	}

	// Roll back a third version; the alias stays.
	register(t, s, "m") // v3
	m, _ = s.StartRollout(ctx, "m", RolloutSpec{Version: 3})
	m, err = s.DecideRollout(ctx, "m", m.Rollout.ID, Decision{Action: DecisionRollback, Reason: "NaN outputs"})
	if err != nil || m.Rollout.Phase != PhaseRolledBack || m.Aliases["production"] != 2 || m.Route().Canary != 0 {
		t.Fatalf("rollback: %+v %v", m, err)
	}
	// Pause and resume.
	m, _ = s.StartRollout(ctx, "m", RolloutSpec{Version: 3})
	id := m.Rollout.ID
	if m, _ = s.DecideRollout(ctx, "m", id, Decision{Action: DecisionPause}); m.Rollout.Phase != PhasePaused || m.Route().Weight != 5 {
		t.Fatalf("paused: %+v", m.Rollout)
	}
	if _, err := s.DecideRollout(ctx, "m", id, Decision{Action: DecisionAdvance}); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("advance while paused: %v", err)
	}
	if m, _ = s.DecideRollout(ctx, "m", id, Decision{Action: DecisionResume}); m.Rollout.Phase != PhaseProgressing {
		t.Fatalf("resumed: %+v", m.Rollout)
	}
	if _, err := s.DecideRollout(ctx, "m", "other-id", Decision{Action: DecisionAbort}); !errors.Is(err, ErrNoRollout) {
		t.Fatalf("stale id: %v", err)
	}
	if m, _ = s.DecideRollout(ctx, "m", id, Decision{Action: DecisionAbort}); m.Rollout.Phase != PhaseAborted {
		t.Fatalf("aborted: %+v", m.Rollout)
	}
}

func TestShadow(t *testing.T) {
	ctx := context.Background()
	s := newService(t, backends[0].open(t)(), nil)
	mustCreate(t, s, "m")
	register(t, s, "m", "production")
	register(t, s, "m")
	m, err := s.StartShadow(ctx, "m", 2)
	if err != nil || m.Route().Shadow != 2 {
		t.Fatalf("shadow: %+v %v", m, err)
	}
	if _, err := s.StartShadow(ctx, "m", 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	m, err = s.StopShadow(ctx, "m")
	if err != nil || m.Shadow != nil {
		t.Fatalf("stop: %+v %v", m, err)
	}
	// Changes carry the route to watchers (serving).
	_, cur, _, _ := s.Watch(ctx, "")
	s.StartShadow(ctx, "m", 2)
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	changes, _, _, _ := s.Watch(wctx, cur)
	if len(changes) == 0 || changes[len(changes)-1].Route.Shadow != 2 {
		t.Fatalf("changes %+v", changes)
	}
	if !strings.Contains(changes[len(changes)-1].Action, "shadow") {
		t.Fatalf("action %q", changes[len(changes)-1].Action)
	}
}
