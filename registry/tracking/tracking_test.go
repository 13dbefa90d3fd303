package tracking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
)

// open returns a function that opens a new handle (a new "process") on one
// fresh directory.
func open(t *testing.T) func() *Store {
	t.Helper()
	dir := t.TempDir()
	return func() *Store {
		t.Helper()
		st, err := fsstore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(context.Background(), st, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestDefaultExperiment(t *testing.T) {
	ctx := context.Background()
	newStore := open(t)
	a, b := newStore(), newStore()
	for _, s := range []*Store{a, b} {
		e, err := s.GetExperimentByName(ctx, "Default")
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != "0" || e.ArtifactLocation != "mlflow-artifacts:/0" || e.LifecycleStage != StageActive {
			t.Fatalf("default experiment = %+v", e)
		}
	}
	if err := a.DeleteExperiment(ctx, "0"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deleting experiment 0: %v", err)
	}
}

func TestExperiments(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	id1 := must[string](t)(s.CreateExperiment(ctx, "demand", "", []Tag{{"team", "forecast"}}))
	id2 := must[string](t)(s.CreateExperiment(ctx, "churn", "mlflow-artifacts:/custom/churn", nil))
	if id1 != "1" || id2 != "2" {
		t.Fatalf("ids = %s, %s; want 1, 2", id1, id2)
	}
	e := must[*Experiment](t)(s.GetExperiment(ctx, id1))
	if e.ArtifactLocation != "mlflow-artifacts:/1" || e.Tags["team"] != "forecast" {
		t.Fatalf("experiment = %+v", e)
	}
	if e := must[*Experiment](t)(s.GetExperiment(ctx, id2)); e.ArtifactLocation != "mlflow-artifacts:/custom/churn" {
		t.Fatalf("custom location = %q", e.ArtifactLocation)
	}
	for _, tc := range []struct {
		name, loc string
		want      error
	}{
		{"demand", "", ErrAlreadyExists},
		{"", "", ErrInvalid},
		{"x", "s3://bucket/x", ErrInvalid},
		{"y", "mlflow-artifacts:/../etc", ErrInvalid},
		{"z", "runs:/abc/model", ErrInvalid},
	} {
		if _, err := s.CreateExperiment(ctx, tc.name, tc.loc, nil); !errors.Is(err, tc.want) {
			t.Errorf("create %q %q: %v, want %v", tc.name, tc.loc, err, tc.want)
		}
	}
	// A deleted experiment keeps its name; a rename frees it.
	if err := s.DeleteExperiment(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateExperiment(ctx, "demand", "", nil); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("create over a deleted name: %v", err)
	}
	if e, err := s.GetExperimentByName(ctx, "demand"); err != nil || e.LifecycleStage != StageDeleted {
		t.Fatalf("get deleted by name: %+v %v", e, err)
	}
	if err := s.RestoreExperiment(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameExperiment(ctx, id1, "demand-v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetExperimentByName(ctx, "demand"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still found: %v", err)
	}
	if err := s.RenameExperiment(ctx, id1, "churn"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	id3 := must[string](t)(s.CreateExperiment(ctx, "demand", "", nil))
	if id3 != "3" {
		t.Fatalf("id3 = %s", id3)
	}
	if _, err := s.GetExperiment(ctx, "42"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing experiment: %v", err)
	}
	if _, err := s.GetExperiment(ctx, "../x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad id: %v", err)
	}
}

// Two processes creating experiments at once never share an id, and of two
// creations of one name exactly one wins.
func TestExperimentsConcurrent(t *testing.T) {
	ctx := context.Background()
	newStore := open(t)
	stores := []*Store{newStore(), newStore()}
	var mu sync.Mutex
	ids := map[string]string{}
	wins := map[string]int{}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("exp-%d", i/2) // every name is created twice
			id, err := stores[i%2].CreateExperiment(ctx, name, "", nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if prev, dup := ids[id]; dup {
					t.Errorf("id %s given to %s and %s", id, prev, name)
				}
				ids[id] = name
				wins[name]++
			case errors.Is(err, ErrAlreadyExists):
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range 12 {
		if n := wins[fmt.Sprintf("exp-%d", i)]; n != 1 {
			t.Errorf("exp-%d created %d times", i, n)
		}
	}
	for id, name := range ids {
		e, err := stores[0].GetExperimentByName(ctx, name)
		if err != nil || e.ID != id {
			t.Errorf("%s: %+v %v (want id %s)", name, e, err, id)
		}
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	newStore := open(t)
	s := newStore()
	r := must[*Run](t)(s.CreateRun(ctx, NewRun{UserID: "alice", Tags: []Tag{{"mlflow.user", "alice"}}}))
	if len(r.Info.RunID) != 32 || r.Info.ExperimentID != "0" || r.Info.Status != StatusRunning ||
		r.Info.ArtifactURI != "mlflow-artifacts:/0/"+r.Info.RunID+"/artifacts" || r.Info.RunName == "" ||
		r.Tags[TagRunName] != r.Info.RunName {
		t.Fatalf("run = %+v", r)
	}
	id := r.Info.RunID
	if _, err := s.CreateRun(ctx, NewRun{ExperimentID: "99"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("run in a missing experiment: %v", err)
	}
	if _, err := s.CreateRun(ctx, NewRun{RunName: "a", Tags: []Tag{{TagRunName, "b"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("conflicting run names: %v", err)
	}

	// Params are immutable; the same value again is fine.
	if err := s.LogBatch(ctx, id, nil, []Param{{"alpha", "0.5"}}, []Tag{{"team", "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.LogBatch(ctx, id, nil, []Param{{"alpha", "0.5"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.LogBatch(ctx, id, []Metric{{Key: "m", Value: 1, Timestamp: 1, Step: 0}}, []Param{{"alpha", "0.7"}}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing a param: %v", err)
	}
	if h := must[[]Metric](t)(historyOf(s, id, "m")); len(h) != 0 {
		t.Fatalf("a refused batch wrote history: %v", h)
	}

	// History across pages, from two processes.
	other := newStore()
	const n = 2*HistoryPageSize + 500
	var batch []Metric
	for i := range n {
		batch = append(batch, Metric{Key: "loss", Value: float64(n - i), Timestamp: int64(1000 + i), Step: int64(i)})
		if len(batch) == MaxMetricsPerBatch || i == n-1 {
			w := s
			if i%2 == 1 {
				w = other
			}
			if err := w.LogBatch(ctx, id, batch, nil, nil); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	h := must[[]Metric](t)(historyOf(s, id, "loss"))
	if len(h) != n {
		t.Fatalf("history has %d points, want %d", len(h), n)
	}
	for i, m := range h {
		if m.Step != int64(i) {
			t.Fatalf("point %d has step %d", i, m.Step)
		}
	}
	got, next, err := s.MetricHistory(ctx, id, "loss", 1200, "")
	if err != nil || len(got) != 1200 || next == "" {
		t.Fatalf("first page: %d %q %v", len(got), next, err)
	}
	got, next, err = s.MetricHistory(ctx, id, "loss", 1200, next)
	if err != nil || len(got) != 1200 || got[0].Step != 1200 || next == "" {
		t.Fatalf("second page: %d %v %q %v", len(got), got[0], next, err)
	}
	got, next, err = s.MetricHistory(ctx, id, "loss", 1200, next)
	if err != nil || len(got) != n-2400 || next != "" {
		t.Fatalf("last page: %d %q %v", len(got), next, err)
	}
	if _, _, err := s.MetricHistory(ctx, id, "loss", 10, "garbage!"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad token: %v", err)
	}

	// Latest value: highest step, then timestamp, then value; NaN survives.
	if err := s.LogBatch(ctx, id, []Metric{{Key: "acc", Value: 0.5, Timestamp: 10, Step: 1}, {Key: "acc", Value: 0.9, Timestamp: 5, Step: 2}, {Key: "acc", Value: 0.1, Timestamp: 5, Step: 2}, {Key: "nan", Value: math.NaN(), Timestamp: 1, Step: 0}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	r = must[*Run](t)(other.GetRun(ctx, id))
	if m := r.Metrics["acc"]; m.Value != 0.9 || m.Step != 2 {
		t.Fatalf("latest acc = %+v", m)
	}
	if !math.IsNaN(r.Metrics["nan"].Value) || r.Metrics["loss"].Step != n-1 {
		t.Fatalf("metrics = %+v", r.Metrics)
	}
	if r.Params["alpha"] != "0.5" || r.Tags["team"] != "x" {
		t.Fatalf("params %v tags %v", r.Params, r.Tags)
	}

	// Tags, logged models, update, delete.
	if err := s.DeleteTag(ctx, id, "team"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, id, "team"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a missing tag: %v", err)
	}
	for range 2 {
		if err := s.LogModel(ctx, id, map[string]any{"artifact_path": "model", "flavors": map[string]any{"onnx": map[string]any{}}, "signature": "big"}); err != nil {
			t.Fatal(err)
		}
	}
	r = must[*Run](t)(s.GetRun(ctx, id))
	if v := r.Tags[TagLoggedModels]; v != `[{"artifact_path":"model","flavors":{"onnx":{}}},{"artifact_path":"model","flavors":{"onnx":{}}}]` {
		t.Fatalf("log-model history = %s", v)
	}
	st, end, name := StatusFinished, int64(99), "renamed"
	info := must[*RunInfo](t)(s.UpdateRun(ctx, id, RunUpdate{Status: &st, EndTime: &end, RunName: &name}))
	if info.Status != StatusFinished || info.EndTime != 99 || info.RunName != "renamed" {
		t.Fatalf("updated = %+v", info)
	}
	if err := s.DeleteRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.LogBatch(ctx, id, nil, nil, []Tag{{"a", "b"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("logging to a deleted run: %v", err)
	}
	if err := s.RestoreRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRun(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if _, err := s.GetRun(ctx, "../../x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad run id: %v", err)
	}
}

func historyOf(s *Store, runID, key string) ([]Metric, error) {
	h, _, err := s.MetricHistory(context.Background(), runID, key, MaxHistoryResults, "")
	return h, err
}

func TestBatchValidation(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	r := must[*Run](t)(s.CreateRun(ctx, NewRun{}))
	many := func(n int) []Metric {
		out := make([]Metric, n)
		for i := range out {
			out[i] = Metric{Key: "m", Value: 1}
		}
		return out
	}
	params := func(n int) []Param {
		out := make([]Param, n)
		for i := range out {
			out[i] = Param{Key: fmt.Sprint("p", i), Value: "v"}
		}
		return out
	}
	long := string(make([]byte, MaxParamValueLen+1))
	for _, tc := range []struct {
		name    string
		metrics []Metric
		params  []Param
		tags    []Tag
	}{
		{"too many metrics", many(MaxMetricsPerBatch + 1), nil, nil},
		{"too many params", nil, params(MaxParamsPerBatch + 1), nil},
		{"too many in all", many(950), params(60), nil},
		{"bad metric key", []Metric{{Key: "a:b"}}, nil, nil},
		{"dot-dot key", []Metric{{Key: "../x"}}, nil, nil},
		{"negative timestamp", []Metric{{Key: "m", Timestamp: -1}}, nil, nil},
		{"long param", nil, []Param{{"p", long}}, nil},
		{"duplicate params", nil, []Param{{"p", "1"}, {"p", "1"}}, nil},
		{"empty tag key", nil, nil, []Tag{{"", "v"}}},
	} {
		if err := s.LogBatch(ctx, r.Info.RunID, tc.metrics, tc.params, tc.tags); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if got := must[*Run](t)(s.GetRun(ctx, r.Info.RunID)); len(got.Params)+len(got.Metrics) != 0 {
		t.Fatalf("refused batches changed the run: %+v", got)
	}
}

func TestSearchRuns(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	exp := must[string](t)(s.CreateExperiment(ctx, "search", "", nil))
	var ids []string
	for i := range 7 {
		r := must[*Run](t)(s.CreateRun(ctx, NewRun{ExperimentID: exp, RunName: fmt.Sprint("run-", i), StartTime: int64(100 + i)}))
		ids = append(ids, r.Info.RunID)
		ms := []Metric{{Key: "rmse", Value: float64(i) / 10, Timestamp: 1}}
		if i == 6 {
			ms = nil // run-6 has no rmse
		}
		if err := s.LogBatch(ctx, r.Info.RunID, ms, []Param{{"model", []string{"linear", "tree"}[i%2]}}, []Tag{{"team", "a b"}}); err != nil {
			t.Fatal(err)
		}
	}
	st := StatusFinished
	if _, err := s.UpdateRun(ctx, ids[3], RunUpdate{Status: &st}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRun(ctx, ids[5]); err != nil {
		t.Fatal(err)
	}
	names := func(rs []*Run) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Info.RunName)
		}
		return out
	}
	for _, tc := range []struct {
		filter  string
		orderBy []string
		view    ViewType
		want    []string
	}{
		{"", nil, 0, []string{"run-6", "run-4", "run-3", "run-2", "run-1", "run-0"}},
		{"", nil, All, []string{"run-6", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"}},
		{"", nil, DeletedOnly, []string{"run-5"}},
		{"metrics.rmse > 0.15", nil, 0, []string{"run-4", "run-3", "run-2"}},
		{"metrics.rmse >= 0.2 and params.model = 'linear'", nil, 0, []string{"run-4", "run-2"}},
		{"params.model != 'linear'", nil, 0, []string{"run-3", "run-1"}},
		{"attributes.status = 'FINISHED'", nil, 0, []string{"run-3"}},
		{"status = 'RUNNING' AND run_name LIKE 'run-_'", []string{"attributes.run_name ASC"}, 0, []string{"run-0", "run-1", "run-2", "run-4", "run-6"}},
		{"tags.`team` = 'a b'", []string{"metrics.rmse DESC"}, 0, []string{"run-4", "run-3", "run-2", "run-1", "run-0", "run-6"}},
		{"tags.team ILIKE 'A%'", []string{"metrics.rmse"}, 0, []string{"run-0", "run-1", "run-2", "run-3", "run-4", "run-6"}},
		{"attributes.run_id IN ('" + ids[0] + "', '" + ids[1] + "')", nil, 0, []string{"run-1", "run-0"}},
		{"run_id NOT IN ('" + ids[0] + "')", []string{"start_time"}, 0, []string{"run-1", "run-2", "run-3", "run-4", "run-6"}},
		{"attributes.start_time < 102", nil, 0, []string{"run-1", "run-0"}},
	} {
		got, _, err := s.SearchRuns(ctx, RunQuery{ExperimentIDs: []string{exp}, Filter: tc.filter, OrderBy: tc.orderBy, ViewType: tc.view})
		if err != nil {
			t.Errorf("%q: %v", tc.filter, err)
			continue
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%q %v: got %v, want %v", tc.filter, tc.orderBy, names(got), tc.want)
		}
	}
	// Pagination.
	var all []string
	tok := ""
	for range 10 {
		got, next, err := s.SearchRuns(ctx, RunQuery{ExperimentIDs: []string{exp}, MaxResults: 4, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, names(got)...)
		if tok = next; tok == "" {
			break
		}
	}
	if !slices.Equal(all, []string{"run-6", "run-4", "run-3", "run-2", "run-1", "run-0"}) {
		t.Fatalf("pages: %v", all)
	}
	for _, q := range []RunQuery{
		{Filter: "metrics.rmse > 'abc'"},
		{Filter: "params.model > 'a'"},
		{Filter: "metrics.rmse > 1 OR metrics.rmse < 0"},
		{Filter: "(metrics.rmse > 1)"},
		{Filter: "attributes.color = 'red'"},
		{Filter: "datasets.name = 'x'"},
		{Filter: "params.model = 'unterminated"},
		{Filter: "metrics.rmse >"},
		{Filter: "metrics.rmse > 1 AND"},
		{Filter: "foo.bar = 'x'"},
		{OrderBy: []string{"attributes.color"}},
		{OrderBy: []string{"metrics.rmse sideways"}},
		{MaxResults: MaxSearchResults + 1},
		{PageToken: "not-a-token"},
		{PageToken: encodeToken(4, 12345)},
	} {
		q.ExperimentIDs = []string{exp}
		if _, _, err := s.SearchRuns(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want INVALID", q, err)
		}
	}
}

func TestSearchExperiments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"alpha", "beta", "gamma", "delta"} {
		tags := []Tag{{"team", []string{"x", "y"}[i%2]}}
		must[string](t)(s.CreateExperiment(ctx, name, "", tags))
	}
	if err := s.DeleteExperiment(ctx, "4"); err != nil {
		t.Fatal(err)
	}
	names := func(es []*Experiment) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	for _, tc := range []struct {
		q    ExperimentQuery
		want []string
	}{
		{ExperimentQuery{OrderBy: []string{"name"}}, []string{"Default", "alpha", "beta", "gamma"}},
		{ExperimentQuery{OrderBy: []string{"experiment_id DESC"}, ViewType: All}, []string{"delta", "gamma", "beta", "alpha", "Default"}},
		{ExperimentQuery{Filter: "name LIKE '%a'", OrderBy: []string{"name"}}, []string{"alpha", "beta", "gamma"}},
		{ExperimentQuery{Filter: "name = 'beta'"}, []string{"beta"}},
		{ExperimentQuery{Filter: "tags.team = 'y'", ViewType: All, OrderBy: []string{"attribute.name ASC"}}, []string{"beta", "delta"}},
		{ExperimentQuery{Filter: "name ILIKE 'DEFAULT'"}, []string{"Default"}},
		{ExperimentQuery{ViewType: DeletedOnly}, []string{"delta"}},
	} {
		got, _, err := s.SearchExperiments(ctx, tc.q)
		if err != nil {
			t.Errorf("%+v: %v", tc.q, err)
			continue
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.q, names(got), tc.want)
		}
	}
	var all []string
	tok := ""
	for {
		got, next, err := s.SearchExperiments(ctx, ExperimentQuery{MaxResults: 2, PageToken: tok, OrderBy: []string{"name DESC"}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, names(got)...)
		if tok = next; tok == "" {
			break
		}
	}
	if !slices.Equal(all, []string{"gamma", "beta", "alpha", "Default"}) {
		t.Fatalf("pages = %v", all)
	}
	for _, q := range []ExperimentQuery{
		{Filter: "metrics.x > 1"},
		{Filter: "name > 'a'"},
		{Filter: "creation_time > 'soon'"},
		{OrderBy: []string{"tags.team"}},
		{MaxResults: -1},
	} {
		if _, _, err := s.SearchExperiments(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want INVALID", q, err)
		}
	}
}

func TestCleanArtifactPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"0/abc/artifacts/model/MLmodel", "0/abc/artifacts/model/MLmodel", true},
		{"a//b/./c/", "a/b/c", true},
		{"my%20model/1", "my model/1", true},
		{"..", "", false},
		{"a/../b", "", false},
		{"%2e%2e/etc/passwd", "", false},
		{"%252e%252e/x", "", false},
		{"a/%2E%2E", "", false},
		{"/etc/passwd", "", false},
		{"%2fetc", "", false},
		{`a\b`, "", false},
		{"a%5c..%5cb", "", false},
		{"C:/x", "", false},
		{"a\x00b", "", false},
		{"a%00b", "", false},
	} {
		got, err := CleanArtifactPath(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanArtifactPath(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error %v is not ErrInvalid", tc.in, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"mlflow-artifacts:/0/abc/artifacts", "0/abc/artifacts"},
		{"mlflow-artifacts:///0/abc", "0/abc"},
		{"mlflow-artifacts://host:5000/0/abc", "0/abc"},
	} {
		if got, err := ParseArtifactURI(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseArtifactURI(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, in := range []string{"s3://b/k", "mlflow-artifacts:/../x", "mlflow-artifacts://h/a?b=c"} {
		if _, err := ParseArtifactURI(in); err == nil {
			t.Errorf("ParseArtifactURI(%q) accepted", in)
		}
	}
}

func TestLike(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"abc", "abc", false, true},
		{"a%", "abc", false, true},
		{"%c", "abc", false, true},
		{"%b%", "abc", false, true},
		{"a_c", "abc", false, true},
		{"a_c", "abbc", false, false},
		{"A%", "abc", false, false},
		{"A%", "abc", true, true},
		{"%", "", false, true},
		{"_", "", false, false},
		{`100\%`, "100%", false, true},
		{`100\%`, "1000", false, false},
		{"%a%a%a%a%b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{"é_", "éa", false, true},
	} {
		if got := compileLike(tc.pat, tc.fold).match(tc.s); got != tc.want {
			t.Errorf("%q LIKE %q (fold %v) = %v", tc.s, tc.pat, tc.fold, got)
		}
	}
}

// The artifact listing sees files and directories one level down.
func TestListArtifacts(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	for _, k := range []string{"0/r/artifacts/model/MLmodel", "0/r/artifacts/model/model.onnx", "0/r/artifacts/model/sub/x.txt"} {
		if _, err := objstore.PutBytes(ctx, s.ObjectStore(), ArtifactKey(k), []byte("data"), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListArtifacts(ctx, "0/r/artifacts/model")
	if err != nil {
		t.Fatal(err)
	}
	want := []FileInfo{{"MLmodel", false, 4}, {"model.onnx", false, 4}, {"sub", true, 0}}
	if !slices.Equal(got, want) {
		t.Fatalf("listing = %+v", got)
	}
	if got, err := s.ListArtifacts(ctx, "0/r/artifacts/model/MLmodel"); err != nil || len(got) != 0 {
		t.Fatalf("listing a file = %+v, %v", got, err)
	}
	if got, err := s.ListArtifacts(ctx, "nope"); err != nil || len(got) != 0 {
		t.Fatalf("listing a missing dir = %+v, %v", got, err)
	}
}
