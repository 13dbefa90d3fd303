package tracking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoggedModels(t *testing.T) {
	ctx := context.Background()
	newStore := open(t)
	s, other := newStore(), newStore()
	exp := must[string](t)(s.CreateExperiment(ctx, "demand", "", nil))
	run := must[*Run](t)(s.CreateRun(ctx, NewRun{ExperimentID: exp}))

	m := must[*LoggedModel](t)(s.CreateLoggedModel(ctx, NewLoggedModel{
		ExperimentID: exp, Name: "model", SourceRunID: run.Info.RunID,
		Params: []Param{{"alpha", "0.5"}}, Tags: []Tag{{"mlflow.user", "alice"}},
	}))
	if !validLoggedModelID(m.ID) || m.Status != LoggedModelPending || m.ExperimentID != exp ||
		m.ArtifactLocation != "mlflow-artifacts:/"+exp+"/models/"+m.ID+"/artifacts" ||
		m.CreationTime == 0 || m.LastUpdateTime != m.CreationTime || m.Params["alpha"] != "0.5" || m.Tags["mlflow.user"] != "alice" {
		t.Fatalf("created = %+v", m)
	}
	// Another process sees it at once.
	if got := must[*LoggedModel](t)(other.GetLoggedModel(ctx, m.ID)); got.Name != "model" || got.SourceRunID != run.Info.RunID {
		t.Fatalf("other process reads %+v", got)
	}
	unnamed := must[*LoggedModel](t)(s.CreateLoggedModel(ctx, NewLoggedModel{ExperimentID: exp}))
	if unnamed.Name == "" || unnamed.ID == m.ID {
		t.Fatalf("unnamed = %+v", unnamed)
	}

	for _, tc := range []struct {
		name string
		in   NewLoggedModel
		want error
	}{
		{"missing experiment", NewLoggedModel{ExperimentID: "99"}, ErrNotFound},
		{"no experiment", NewLoggedModel{}, ErrNotFound},
		{"dot in name", NewLoggedModel{ExperimentID: exp, Name: "a.b"}, ErrInvalid},
		{"quote in name", NewLoggedModel{ExperimentID: exp, Name: `a"b`}, ErrInvalid},
		{"long name", NewLoggedModel{ExperimentID: exp, Name: strings.Repeat("a", MaxLoggedModelNameLen+1)}, ErrInvalid},
		{"bad param", NewLoggedModel{ExperimentID: exp, Params: []Param{{"a:b", "1"}}}, ErrInvalid},
		{"conflicting params", NewLoggedModel{ExperimentID: exp, Params: []Param{{"a", "1"}, {"a", "2"}}}, ErrInvalid},
		{"bad tag", NewLoggedModel{ExperimentID: exp, Tags: []Tag{{"", "1"}}}, ErrInvalid},
	} {
		if _, err := s.CreateLoggedModel(ctx, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, id := range []string{"m-0123456789abcdef0123456789abcdef", "m-x", "../../x", ""} {
		if _, err := s.GetLoggedModel(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("get %q: %v", id, err)
		}
	}

	// Finalize: only READY or UPLOAD_FAILED; the same status again is a no-op.
	if _, err := s.FinalizeLoggedModel(ctx, m.ID, LoggedModelPending); !errors.Is(err, ErrInvalid) {
		t.Fatalf("finalize PENDING: %v", err)
	}
	ready := must[*LoggedModel](t)(s.FinalizeLoggedModel(ctx, m.ID, LoggedModelReady))
	again := must[*LoggedModel](t)(other.FinalizeLoggedModel(ctx, m.ID, LoggedModelReady))
	if ready.Status != LoggedModelReady || again.Status != LoggedModelReady || again.LastUpdateTime != ready.LastUpdateTime {
		t.Fatalf("finalized %+v, again %+v", ready, again)
	}
	for _, tc := range []struct {
		in   string
		want LoggedModelStatus
	}{{"LOGGED_MODEL_READY", LoggedModelReady}, {"2", LoggedModelReady}, {"ready", LoggedModelReady},
		{"LOGGED_MODEL_UPLOAD_FAILED", LoggedModelFailed}, {"3", LoggedModelFailed}, {"FAILED", LoggedModelFailed}} {
		if got, err := ParseFinalStatus(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseFinalStatus(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", "1", "0", "LOGGED_MODEL_PENDING", "PENDING", "LOGGED_MODEL_STATUS_UNSPECIFIED", "bogus"} {
		if _, err := ParseFinalStatus(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFinalStatus(%q): %v", bad, err)
		}
	}

	// Params are immutable; tags are not.
	if err := s.LogLoggedModelParams(ctx, m.ID, []Param{{"alpha", "0.5"}, {"opset", "17"}}); err != nil {
		t.Fatal(err)
	}
	if err := other.LogLoggedModelParams(ctx, m.ID, []Param{{"alpha", "0.7"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing a param: %v", err)
	}
	got := must[*LoggedModel](t)(s.SetLoggedModelTags(ctx, m.ID, []Tag{{"team", "forecast"}, {"mlflow.user", "bob"}}))
	if got.Tags["team"] != "forecast" || got.Tags["mlflow.user"] != "bob" || got.Params["opset"] != "17" {
		t.Fatalf("after tags and params: %+v", got)
	}
	if err := s.DeleteLoggedModelTag(ctx, m.ID, "team"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLoggedModelTag(ctx, m.ID, "team"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a missing tag: %v", err)
	}

	// Registrations: recorded once, in the client's layout; the client's
	// own append of what it read is deduplicated.
	for range 2 {
		if err := s.AddModelVersion(ctx, m.ID, "demand", "1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.AddModelVersion(ctx, m.ID, `de"mand`, "2"); err != nil {
		t.Fatal(err)
	}
	const want = `[{"name": "demand", "version": "1"}, {"name": "de\"mand", "version": "2"}]`
	if got := must[*LoggedModel](t)(s.GetLoggedModel(ctx, m.ID)); got.Tags[TagModelVersions] != want {
		t.Fatalf("%s = %s", TagModelVersions, got.Tags[TagModelVersions])
	}
	client := strings.TrimSuffix(want, "]") + `, {"name": "de\"mand", "version": 2}]`
	if got := must[*LoggedModel](t)(s.SetLoggedModelTags(ctx, m.ID, []Tag{{TagModelVersions, client}})); got.Tags[TagModelVersions] != want {
		t.Fatalf("after the client's append: %s", got.Tags[TagModelVersions])
	}

	// Delete: gone for reads and writes; deleting again is fine.
	if err := s.DeleteLoggedModel(ctx, unnamed.ID); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteLoggedModel(ctx, unnamed.ID); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := other.GetLoggedModel(ctx, unnamed.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := s.FinalizeLoggedModel(ctx, unnamed.ID, LoggedModelReady); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finalize deleted: %v", err)
	}

	// The experiment must be active.
	if err := s.DeleteExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLoggedModel(ctx, NewLoggedModel{ExperimentID: exp}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create in a deleted experiment: %v", err)
	}
}

// Concurrent tag writers from two processes: compare-and-swap loses none.
func TestLoggedModelTagsConcurrent(t *testing.T) {
	ctx := context.Background()
	newStore := open(t)
	stores := []*Store{newStore(), newStore()}
	m := must[*LoggedModel](t)(stores[0].CreateLoggedModel(ctx, NewLoggedModel{ExperimentID: DefaultExperimentID}))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := stores[i%2].SetLoggedModelTags(ctx, m.ID, []Tag{{fmt.Sprint("k", i), "v"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := must[*LoggedModel](t)(stores[1].GetLoggedModel(ctx, m.ID)); len(got.Tags) != 40 {
		t.Fatalf("%d tags, want 40", len(got.Tags))
	}
}

// MLflow 3's log_model links the run's metrics of its step to the model by
// logging them again: the model gets them, the run's history does not grow.
func TestLinkedMetrics(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	run := must[*Run](t)(s.CreateRun(ctx, NewRun{}))
	id := run.Info.RunID
	pts := []Metric{
		{Key: "rmse", Value: 0.5, Timestamp: 10, Step: 0},
		{Key: "rmse", Value: 0.4, Timestamp: 11, Step: 0},
		{Key: "nan", Value: math.NaN(), Timestamp: 10, Step: 0},
	}
	if err := s.LogBatch(ctx, id, pts, nil, nil); err != nil {
		t.Fatal(err)
	}
	m := must[*LoggedModel](t)(s.CreateLoggedModel(ctx, NewLoggedModel{ExperimentID: DefaultExperimentID, Name: "model", SourceRunID: id}))
	if err := s.LogOutputs(ctx, id, []ModelOutput{{m.ID, 0}, {m.ID, 0}}); err != nil {
		t.Fatal(err)
	}
	relog := func() []Metric {
		var out []Metric
		for _, p := range pts {
			p.ModelID = m.ID
			out = append(out, p)
		}
		return out
	}
	for range 2 {
		if err := s.LogBatch(ctx, id, relog(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if h := must[[]Metric](t)(historyOf(s, id, "rmse")); len(h) != 2 {
		t.Fatalf("rmse history has %d points, want 2: %v", len(h), h)
	}
	if h := must[[]Metric](t)(historyOf(s, id, "nan")); len(h) != 1 {
		t.Fatalf("nan history has %d points, want 1", len(h))
	}
	// A new point linked to the model is a new point of the run too.
	if err := s.LogBatch(ctx, id, []Metric{{Key: "rmse", Value: 0.3, Timestamp: 12, Step: 0, ModelID: m.ID, DatasetName: "test"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if h := must[[]Metric](t)(historyOf(s, id, "rmse")); len(h) != 3 {
		t.Fatalf("rmse history has %d points, want 3", len(h))
	}
	got := must[*LoggedModel](t)(s.GetLoggedModel(ctx, m.ID))
	if len(got.Metrics) != 3 {
		t.Fatalf("model metrics = %+v", got.Metrics)
	}
	for _, mm := range got.Metrics {
		switch {
		case mm.Key == "rmse" && mm.DatasetName == "":
			if mm.Value != 0.4 || mm.RunID != id {
				t.Errorf("rmse = %+v", mm)
			}
		case mm.Key == "rmse":
			if mm.Value != 0.3 || mm.DatasetName != "test" {
				t.Errorf("rmse on test = %+v", mm)
			}
		case !math.IsNaN(mm.Value):
			t.Errorf("nan = %+v", mm)
		}
	}
	r := must[*Run](t)(s.GetRun(ctx, id))
	if len(r.Outputs) != 1 || r.Outputs[0] != (ModelOutput{m.ID, 0}) || r.Metrics["rmse"].ModelID != "" {
		t.Fatalf("run outputs %+v, rmse %+v", r.Outputs, r.Metrics["rmse"])
	}
	// A link to a missing model is refused before anything is written.
	if err := s.LogBatch(ctx, id, []Metric{{Key: "rmse", Value: 9, Timestamp: 13, ModelID: "m-0123456789abcdef0123456789abcdef"}}, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link to a missing model: %v", err)
	}
	if h := must[[]Metric](t)(historyOf(s, id, "rmse")); len(h) != 3 {
		t.Fatalf("a refused batch wrote history: %v", h)
	}
}

func TestRunLoggedModel(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	run := must[*Run](t)(s.CreateRun(ctx, NewRun{}))
	id := run.Info.RunID
	if _, err := s.RunLoggedModel(ctx, id, "model"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no model: %v", err)
	}
	create := func(name, runID string) *LoggedModel {
		return must[*LoggedModel](t)(s.CreateLoggedModel(ctx, NewLoggedModel{ExperimentID: DefaultExperimentID, Name: name, SourceRunID: runID}))
	}
	a := create("model", id)
	create("other", id)
	create("model", "0123456789abcdef0123456789abcdef")
	if got := must[*LoggedModel](t)(s.RunLoggedModel(ctx, id, "model")); got.ID != a.ID {
		t.Fatalf("got %s, want %s", got.ID, a.ID)
	}
	b := create("model", id)
	if _, err := s.RunLoggedModel(ctx, id, "model"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two candidates without outputs: %v", err)
	}
	if err := s.LogOutputs(ctx, id, []ModelOutput{{a.ID, 3}, {b.ID, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := must[*LoggedModel](t)(s.RunLoggedModel(ctx, id, "model")); got.ID != a.ID {
		t.Fatalf("got %s, want %s (highest step)", got.ID, a.ID)
	}
	if err := s.DeleteLoggedModel(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := must[*LoggedModel](t)(s.RunLoggedModel(ctx, id, "model")); got.ID != b.ID {
		t.Fatalf("got %s, want %s (a is deleted)", got.ID, b.ID)
	}
}

func TestSearchLoggedModels(t *testing.T) {
	ctx := context.Background()
	s := open(t)()
	exp := must[string](t)(s.CreateExperiment(ctx, "search", "", nil))
	run := must[*Run](t)(s.CreateRun(ctx, NewRun{ExperimentID: exp}))
	now := int64(1000)
	s.opts.Now = func() time.Time { return time.UnixMilli(now) }
	var ids []string
	for i := range 6 {
		now++
		m := must[*LoggedModel](t)(s.CreateLoggedModel(ctx, NewLoggedModel{
			ExperimentID: exp, Name: fmt.Sprint("m", i), SourceRunID: run.Info.RunID, ModelType: []string{"", "regressor"}[i%2],
			Params: []Param{{"kind", []string{"linear", "tree"}[i%2]}}, Tags: []Tag{{"team", "a b"}},
		}))
		ids = append(ids, m.ID)
		if i < 4 {
			ms := []Metric{{Key: "rmse", Value: float64(i) / 10, Timestamp: 1, ModelID: m.ID, DatasetName: []string{"train", "test"}[i%2]}}
			if err := s.LogBatch(ctx, run.Info.RunID, ms, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 {
			must[*LoggedModel](t)(s.FinalizeLoggedModel(ctx, m.ID, LoggedModelReady))
		}
	}
	if err := s.DeleteLoggedModel(ctx, ids[5]); err != nil {
		t.Fatal(err)
	}
	names := func(ms []*LoggedModel) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name     string
		q        LoggedModelQuery
		want     string
		wantErr  error
		pageSize int
	}{
		{name: "all, newest first", q: LoggedModelQuery{}, want: "m4,m3,m2,m1,m0"},
		{name: "by name", q: LoggedModelQuery{Filter: "name = 'm2'"}, want: "m2"},
		{name: "name LIKE", q: LoggedModelQuery{Filter: "name LIKE 'm%' AND name != 'm0'"}, want: "m4,m3,m2,m1"},
		{name: "status READY", q: LoggedModelQuery{Filter: "status = 'READY'"}, want: "m3,m0"},
		{name: "status proto name", q: LoggedModelQuery{Filter: "attributes.status IN ('LOGGED_MODEL_PENDING')"}, want: "m4,m2,m1"},
		{name: "model_type unset matches nothing", q: LoggedModelQuery{Filter: "model_type != 'regressor'"}, want: ""},
		{name: "params IN", q: LoggedModelQuery{Filter: "params.kind IN ('tree')"}, want: "m3,m1"},
		{name: "tags with a space", q: LoggedModelQuery{Filter: "tags.team = 'a b' AND source_run_id = '" + run.Info.RunID + "'"}, want: "m4,m3,m2,m1,m0"},
		{name: "metric", q: LoggedModelQuery{Filter: "metrics.rmse >= 0.2"}, want: "m3,m2"},
		{name: "metric on a dataset", q: LoggedModelQuery{Filter: "metrics.rmse >= 0.2", Datasets: []DatasetRef{{Name: "test"}}}, want: "m3"},
		{name: "models with metrics on a dataset", q: LoggedModelQuery{Datasets: []DatasetRef{{Name: "train"}}}, want: "m2,m0"},
		{name: "creation time", q: LoggedModelQuery{Filter: "creation_timestamp > 1002 AND creation_time <= 1004"}, want: "m3,m2"},
		{name: "order by metric, missing last", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "metrics.rmse", Ascending: true}}}, want: "m0,m1,m2,m3,m4"},
		{name: "order by metric DESC, missing last", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "metrics.rmse"}}}, want: "m3,m2,m1,m0,m4"},
		{name: "order by name", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "name", Ascending: false}}}, want: "m4,m3,m2,m1,m0"},
		{name: "order by creation_time ASC", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "creation_time", Ascending: true}}}, want: "m0,m1,m2,m3,m4"},
		{name: "pages", q: LoggedModelQuery{MaxResults: 2}, want: "m4,m3,m2,m1,m0", pageSize: 2},
		{name: "OR", q: LoggedModelQuery{Filter: "name = 'a' OR name = 'b'"}, wantErr: ErrInvalid},
		{name: "unknown attribute", q: LoggedModelQuery{Filter: "size > 1"}, wantErr: ErrInvalid},
		{name: "order by a param", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "params.kind"}}}, wantErr: ErrInvalid},
		{name: "digest without dataset", q: LoggedModelQuery{OrderBy: []LoggedModelOrder{{Field: "metrics.rmse", DatasetDigest: "x"}}}, wantErr: ErrInvalid},
		{name: "too many", q: LoggedModelQuery{MaxResults: MaxSearchResults + 1}, wantErr: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.ExperimentIDs = []string{exp, exp, "999"}
			var all []*LoggedModel
			for page := 0; ; page++ {
				got, next, err := s.SearchLoggedModels(ctx, q)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v, want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if tc.pageSize > 0 && len(got) > tc.pageSize {
					t.Fatalf("page of %d", len(got))
				}
				all = append(all, got...)
				if next == "" {
					break
				}
				q.PageToken = next
			}
			if got := names(all); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if _, _, err := s.SearchLoggedModels(ctx, LoggedModelQuery{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no experiment ids: %v", err)
	}
}

func TestModelVersionsTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`not json`, `not json`},
		{`[{"name": "a", "version": "1"}]`, `[{"name": "a", "version": "1"}]`},
		{`[{"name":"a","version":"1"},{"name":"a","version":1}]`, `[{"name": "a", "version": "1"}]`},
		{`[{"name": "a", "version": "1"}, {"name": "b", "version": "1"}, {"name": "a", "version": "1"}]`, `[{"name": "a", "version": "1"}, {"name": "b", "version": "1"}]`},
		{`[{"name": "a"}, {"name": "a"}]`, `[{"name": "a"}, {"name": "a"}]`},
		{`[{"name": "<&>", "version": "1"}, {"name": "<&>", "version": "1"}]`, `[{"name": "<&>", "version": "1"}]`},
	} {
		if got := dedupeModelVersions(tc.in); got != tc.want {
			t.Errorf("dedupe(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
