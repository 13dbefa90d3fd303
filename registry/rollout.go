package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rollout phases.
const (
	// PhaseProgressing: the canary takes the current step's weight; the
	// monitor analyses each step and advances, holds or rolls back.
	PhaseProgressing = "progressing"
	// PhasePaused: the canary keeps its weight; no automatic decision.
	PhasePaused = "paused"
	// PhasePromoted: the alias moved to the canary version.
	PhasePromoted = "promoted"
	// PhaseRolledBack: the analysis found the canary worse; it takes no traffic.
	PhaseRolledBack = "rolled_back"
	// PhaseAborted: an operator stopped the rollout; the canary takes no traffic.
	PhaseAborted = "aborted"
)

// Rollout actions, recorded in Decision.Action and as audit actions "rollout.<action>".
const (
	DecisionStart    = "start"
	DecisionAdvance  = "advance"
	DecisionHold     = "hold"
	DecisionRollback = "rollback"
	DecisionPromote  = "promote"
	DecisionPause    = "pause"
	DecisionResume   = "resume"
	DecisionAbort    = "abort"
)

// Duration is a time.Duration that reads and writes JSON as "1m30s".
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a duration is a string like \"1m\"")
	}
	*d = Duration(n)
	return nil
}

// Thresholds decide a rollout step. Zero values take the defaults (see
// DefaultThresholds and docs/rollouts.md for the reasoning).
type Thresholds struct {
	// MaxErrorIncrease is how many percentage points the canary's error
	// rate (failed requests and NaN or infinite outputs) may exceed the
	// stable version's before it is rolled back (default 1).
	MaxErrorIncrease float64 `json:"max_error_increase,omitempty"`
	// MaxLatencyRatio bounds the canary's p99 latency as a multiple of the
	// stable version's (default 1.5), ignoring differences under
	// MinLatencyDelta (default 5ms).
	MaxLatencyRatio float64  `json:"max_latency_ratio,omitempty"`
	MinLatencyDelta Duration `json:"min_latency_delta,omitempty"`
	// MaxPSI bounds the population stability index between the canary's
	// and the stable version's predictions (default 0.25: a major shift).
	MaxPSI float64 `json:"max_psi,omitempty"`
	// MaxJS bounds the Jensen–Shannon distance between them (default 0.2).
	MaxJS float64 `json:"max_js,omitempty"`
	// MaxWAPEIncrease bounds the canary's WAPE against actual outcomes
	// relative to the stable version's (default 0.1: 10% worse), and
	// MaxAccuracyDrop its accuracy in points (default 2), once each has
	// MinOutcomes outcomes (default 30).
	MaxWAPEIncrease float64 `json:"max_wape_increase,omitempty"`
	MaxAccuracyDrop float64 `json:"max_accuracy_drop,omitempty"`
	MinOutcomes     int     `json:"min_outcomes,omitempty"`
	// Z is the z-score of the sequential tests (default 3.0, about 99.9%
	// one-sided per look, which keeps the chance of a wrong decision low
	// over many looks).
	Z float64 `json:"z,omitempty"`
}

// DefaultThresholds are the defaults documented in docs/rollouts.md.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MaxErrorIncrease: 1, MaxLatencyRatio: 1.5, MinLatencyDelta: Duration(5 * time.Millisecond),
		MaxPSI: 0.25, MaxJS: 0.2, MaxWAPEIncrease: 0.1, MaxAccuracyDrop: 2, MinOutcomes: 30, Z: 3,
	}
}

// WithDefaults fills the zero fields.
func (t Thresholds) WithDefaults() Thresholds {
	d := DefaultThresholds()
	if t.MaxErrorIncrease == 0 {
		t.MaxErrorIncrease = d.MaxErrorIncrease
	}
	if t.MaxLatencyRatio == 0 {
		t.MaxLatencyRatio = d.MaxLatencyRatio
	}
	if t.MinLatencyDelta == 0 {
		t.MinLatencyDelta = d.MinLatencyDelta
	}
	if t.MaxPSI == 0 {
		t.MaxPSI = d.MaxPSI
	}
	if t.MaxJS == 0 {
		t.MaxJS = d.MaxJS
	}
	if t.MaxWAPEIncrease == 0 {
		t.MaxWAPEIncrease = d.MaxWAPEIncrease
	}
	if t.MaxAccuracyDrop == 0 {
		t.MaxAccuracyDrop = d.MaxAccuracyDrop
	}
	if t.MinOutcomes == 0 {
		t.MinOutcomes = d.MinOutcomes
	}
	if t.Z == 0 {
		t.Z = d.Z
	}
	return t
}

// Decision is one step of a rollout's history: what was decided and the
// numbers that decided it.
type Decision struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Step   int       `json:"step"`
	Weight float64   `json:"weight"`
	// Reason says it in words ("canary error rate 4.1% vs 0.2% stable over 512 requests").
	Reason string `json:"reason"`
	// Evidence holds the numbers (sample sizes, statistics, thresholds).
	Evidence map[string]float64 `json:"evidence,omitempty"`
	Actor    string             `json:"actor,omitempty"`
}

// Rollout is a canary rollout of a version, step by step, to an alias.
type Rollout struct {
	ID string `json:"id"`
	// Version is the canary; Stable the alias's version when it started;
	// Alias the alias promotion moves (default "production").
	Version int64  `json:"version"`
	Stable  int64  `json:"stable"`
	Alias   string `json:"alias"`
	// Steps are the canary's traffic weights in percent, ascending, the
	// last one 100; Step indexes the current one.
	Steps []float64 `json:"steps"`
	Step  int       `json:"step"`
	// Interval is how often the monitor analyses the step; MinDuration and
	// MinRequests are what a step needs before it may advance.
	Interval    Duration   `json:"interval"`
	MinDuration Duration   `json:"min_duration"`
	MinRequests int        `json:"min_requests"`
	Thresholds  Thresholds `json:"thresholds"`
	// StickyKey routes requests by a key instead of at random, so one key
	// sees one version: a header name ("X-District") or "param:<name>" for
	// an inference request parameter.
	StickyKey string `json:"sticky_key,omitempty"`
	Phase     string `json:"phase"`
	// Holding is set while the analysis waits for evidence, with the reason.
	Holding       bool      `json:"holding,omitempty"`
	StepStartedAt time.Time `json:"step_started_at"`
	StartedAt     time.Time `json:"started_at"`
	StartedBy     string    `json:"started_by,omitempty"`
	FinishedAt    time.Time `json:"finished_at,omitzero"`
	// Last is the latest decision; History keeps the most recent ones.
	Last    *Decision  `json:"last,omitempty"`
	History []Decision `json:"history,omitempty"`
}

// Active reports whether the rollout still routes traffic to the canary.
func (r *Rollout) Active() bool {
	return r != nil && (r.Phase == PhaseProgressing || r.Phase == PhasePaused)
}

// Weight is the canary's current share of traffic in percent (0 when inactive).
func (r *Rollout) Weight() float64 {
	if !r.Active() || r.Step < 0 || r.Step >= len(r.Steps) {
		return 0
	}
	return r.Steps[r.Step]
}

// Shadow is a version that receives a copy of the traffic; its answers are
// compared with the served ones and discarded.
type Shadow struct {
	Version int64     `json:"version"`
	Since   time.Time `json:"since"`
	By      string    `json:"by,omitempty"`
}

// RolloutSpec starts a rollout.
type RolloutSpec struct {
	Version     int64
	Alias       string
	Steps       []float64
	Interval    time.Duration
	MinDuration time.Duration
	MinRequests int
	StickyKey   string
	Thresholds  Thresholds
}

// maxHistory bounds Rollout.History.
const maxHistory = 50

func (s *RolloutSpec) validate() error {
	if s.Alias == "" {
		s.Alias = "production"
	}
	if err := ValidateAlias(s.Alias); err != nil {
		return err
	}
	if len(s.Steps) == 0 {
		s.Steps = []float64{5, 25, 50, 100}
	}
	for i, w := range s.Steps {
		if !(w > 0 && w <= 100) {
			return invalid("rollout step weights must be between 0 and 100 (exclusive of 0), not %v", w)
		}
		if i > 0 && w <= s.Steps[i-1] {
			return invalid("rollout step weights must increase: %v after %v", w, s.Steps[i-1])
		}
	}
	if s.Steps[len(s.Steps)-1] != 100 {
		s.Steps = append(s.Steps, 100)
	}
	if s.Interval == 0 {
		s.Interval = time.Minute
	}
	if s.Interval < 100*time.Millisecond || s.Interval > 24*time.Hour {
		return invalid("rollout interval must be between 100ms and 24h, not %s", s.Interval)
	}
	if s.MinDuration == 0 {
		s.MinDuration = s.Interval
	}
	if s.MinDuration < 0 {
		return invalid("min duration must not be negative")
	}
	if s.MinRequests == 0 {
		s.MinRequests = 100
	}
	if s.MinRequests < 1 || s.MinRequests > 100_000_000 {
		return invalid("min requests must be positive, not %d", s.MinRequests)
	}
	if k := s.StickyKey; k != "" {
		name := strings.TrimPrefix(k, "param:")
		if name == "" || len(name) > 128 || strings.ContainsAny(name, " \t\r\n:") {
			return invalid("sticky key %q must be a header name or param:<name>", k)
		}
	}
	if t := s.Thresholds; t.MaxErrorIncrease < 0 || t.MaxLatencyRatio < 0 || t.MaxPSI < 0 || t.MaxJS < 0 || t.Z < 0 || t.MinOutcomes < 0 {
		return invalid("rollout thresholds must not be negative")
	}
	return nil
}

// StartRollout starts a canary rollout of a READY version. It fails if
// another rollout of the model is in progress or paused.
func (s *Service) StartRollout(ctx context.Context, name string, spec RolloutSpec) (*Model, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	m, err := s.live(name)
	if err != nil {
		return nil, err
	}
	v, err := s.freshVersion(ctx, m, spec.Version)
	if err != nil {
		return nil, err
	}
	if v.Status != StatusReady {
		return nil, precondition("version %d of %q is %s; only READY versions can be rolled out", spec.Version, name, v.Status)
	}
	details := map[string]string{"version": strconv.FormatInt(spec.Version, 10), "steps": fmt.Sprint(spec.Steps)}
	_, after, err := s.updateModel(ctx, name, "rollout."+DecisionStart, details, func(m *Model) error {
		if m.Rollout.Active() {
			return precondition("a rollout of version %d of %q is already %s; abort it first", m.Rollout.Version, name, m.Rollout.Phase)
		}
		stable, ok := m.Aliases[spec.Alias]
		if !ok {
			return precondition("%q has no %q alias yet: point it at a first version (lantern models alias set) before rolling out", name, spec.Alias)
		}
		if stable == spec.Version {
			return precondition("version %d is already %s", spec.Version, spec.Alias)
		}
		now := s.opts.Now()
		r := &Rollout{
			ID: randomID(6), Version: spec.Version, Stable: stable, Alias: spec.Alias, Steps: spec.Steps,
			Interval: Duration(spec.Interval), MinDuration: Duration(spec.MinDuration), MinRequests: spec.MinRequests,
			Thresholds: spec.Thresholds.WithDefaults(), StickyKey: spec.StickyKey, Phase: PhaseProgressing,
			StepStartedAt: now, StartedAt: now, StartedBy: actor(ctx),
		}
		r.record(Decision{Time: now, Action: DecisionStart, Weight: r.Steps[0], Actor: actor(ctx),
			Reason: fmt.Sprintf("rollout of version %d started at %v%% (stable: version %d)", spec.Version, r.Steps[0], stable)})
		m.Rollout = r
		return nil
	})
	return after, err
}

func (r *Rollout) record(d Decision) {
	d.Step = r.Step
	if d.Weight == 0 {
		d.Weight = r.Weight()
	}
	r.Last = &d
	r.History = append(r.History, d)
	if len(r.History) > maxHistory {
		r.History = slices.Clone(r.History[len(r.History)-maxHistory:])
	}
}

// ErrNoRollout is returned (wrapped) when a model has no active rollout.
var ErrNoRollout = errors.New("no rollout in progress")

// DecideRollout records a decision on the model's active rollout with
// compare-and-swap: advance (to the next step), hold (no change of step;
// recorded only when the hold reason changes), rollback, promote (the
// alias moves to the canary in the same write), pause, resume or abort.
// id guards against acting on a rollout that was replaced meanwhile.
func (s *Service) DecideRollout(ctx context.Context, name, id string, d Decision) (*Model, error) {
	if d.Time.IsZero() {
		d.Time = s.opts.Now()
	}
	d.Actor = actor(ctx)
	details := map[string]string{"action": d.Action}
	_, after, err := s.updateModel(ctx, name, "rollout."+d.Action, details, func(m *Model) error {
		r := m.Rollout
		if !r.Active() || (id != "" && r.ID != id) {
			return fmt.Errorf("%w: %w for %q", ErrFailedPrecondition, ErrNoRollout, name)
		}
		r = cloneRollout(r)
		m.Rollout = r
		details["version"] = strconv.FormatInt(r.Version, 10)
		switch d.Action {
		case DecisionHold:
			if r.Phase != PhaseProgressing {
				return errNoChange
			}
			if r.Holding && r.Last != nil && r.Last.Action == DecisionHold && r.Last.Reason == d.Reason {
				return errNoChange // the same hold again: nothing new to record
			}
			r.Holding = true
		case DecisionAdvance:
			if r.Phase != PhaseProgressing {
				return precondition("the rollout is %s", r.Phase)
			}
			if r.Step+1 >= len(r.Steps) {
				return precondition("the rollout is at its last step; promote it")
			}
			r.Step++
			r.StepStartedAt, r.Holding = d.Time, false
			d.Weight = r.Steps[r.Step]
		case DecisionPromote:
			v, ok := s.idx.rawVersion(m.ID, r.Version)
			if !ok || v.Deleted || v.Status != StatusReady {
				return precondition("version %d can no longer be promoted (deleted or not READY)", r.Version)
			}
			if m.Aliases == nil {
				m.Aliases = map[string]int64{}
			}
			details["alias"], details["previous"] = r.Alias, strconv.FormatInt(m.Aliases[r.Alias], 10)
			m.Aliases[r.Alias] = r.Version
			r.Phase, r.FinishedAt, r.Holding = PhasePromoted, d.Time, false
			d.Weight = 100
		case DecisionRollback:
			r.Phase, r.FinishedAt, r.Holding = PhaseRolledBack, d.Time, false
			d.Weight = 0
		case DecisionAbort:
			r.Phase, r.FinishedAt, r.Holding = PhaseAborted, d.Time, false
			d.Weight = 0
		case DecisionPause:
			if r.Phase == PhasePaused {
				return errNoChange
			}
			r.Phase = PhasePaused
		case DecisionResume:
			if r.Phase != PhasePaused {
				return precondition("the rollout is %s, not paused", r.Phase)
			}
			r.Phase, r.StepStartedAt, r.Holding = PhaseProgressing, d.Time, false
		default:
			return invalid("unknown rollout action %q", d.Action)
		}
		r.record(d)
		return nil
	})
	return after, err
}

func cloneRollout(r *Rollout) *Rollout {
	c := *r
	c.Steps = slices.Clone(r.Steps)
	c.History = slices.Clone(r.History)
	if r.Last != nil {
		l := *r.Last
		c.Last = &l
	}
	return &c
}

// StartShadow makes version a shadow of the model: it gets a copy of the
// traffic and its answers are compared and discarded.
func (s *Service) StartShadow(ctx context.Context, name string, version int64) (*Model, error) {
	m, err := s.live(name)
	if err != nil {
		return nil, err
	}
	v, err := s.freshVersion(ctx, m, version)
	if err != nil {
		return nil, err
	}
	if v.Status != StatusReady {
		return nil, precondition("version %d of %q is %s; only READY versions can shadow", version, name, v.Status)
	}
	_, after, err := s.updateModel(ctx, name, "shadow.start", map[string]string{"version": strconv.FormatInt(version, 10)}, func(m *Model) error {
		if m.Shadow != nil && m.Shadow.Version == version {
			return errNoChange
		}
		m.Shadow = &Shadow{Version: version, Since: s.opts.Now(), By: actor(ctx)}
		return nil
	})
	return after, err
}

// StopShadow stops the shadow (no shadow is not an error).
func (s *Service) StopShadow(ctx context.Context, name string) (*Model, error) {
	_, after, err := s.updateModel(ctx, name, "shadow.stop", nil, func(m *Model) error {
		if m.Shadow == nil {
			return errNoChange
		}
		m.Shadow = nil
		return nil
	})
	return after, err
}

// Route is how serving splits a model's traffic, derived from its rollout
// and shadow.
type Route struct {
	// Alias is the alias the canary is rolled out to: serving applies the
	// split only where it serves that alias.
	Alias string `json:"alias,omitempty"`
	// Canary is the canary version (0: none) and Weight its percent.
	Canary    int64   `json:"canary,omitempty"`
	Weight    float64 `json:"weight,omitempty"`
	StickyKey string  `json:"sticky_key,omitempty"`
	// Shadow is the shadow version (0: none).
	Shadow int64 `json:"shadow,omitempty"`
}

// Route returns the model's current traffic split.
func (m *Model) Route() Route {
	var r Route
	if m.Rollout.Active() {
		r.Alias, r.Canary, r.Weight, r.StickyKey = m.Rollout.Alias, m.Rollout.Version, m.Rollout.Weight(), m.Rollout.StickyKey
	}
	if m.Shadow != nil {
		r.Shadow = m.Shadow.Version
	}
	return r
}
