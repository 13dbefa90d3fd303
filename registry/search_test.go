package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	ctx := context.Background()
	s := newService(t, backends[0].open(t)(), nil)
	for _, name := range []string{"rutf-demand", "vaccine-demand", "malnutrition-risk"} {
		mustCreate(t, s, name)
		register(t, s, name)
		register(t, s, name)
	}
	s.SetModelTag(ctx, "vaccine-demand", "family", "demand")
	s.SetModelTag(ctx, "rutf-demand", "family", "demand")
	s.SetVersionTag(ctx, "malnutrition-risk", 2, "gate", "passed")

	models := func(q SearchQuery) []string {
		t.Helper()
		if q.MaxResults == 0 {
			q.MaxResults = 100
		}
		ms, _, err := s.SearchModels(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		return names
	}
	if got := models(SearchQuery{}); fmt.Sprint(got) != "[malnutrition-risk rutf-demand vaccine-demand]" {
		t.Fatalf("all: %v", got)
	}
	if got := models(SearchQuery{Filter: "name LIKE '%-demand' AND tags.family = 'demand'", OrderBy: []string{"name DESC"}}); fmt.Sprint(got) != "[vaccine-demand rutf-demand]" {
		t.Fatalf("filtered: %v", got)
	}
	if got := models(SearchQuery{Filter: "name ILIKE 'RUTF%'"}); fmt.Sprint(got) != "[rutf-demand]" {
		t.Fatalf("ilike: %v", got)
	}

	vs, _, err := s.SearchVersions(ctx, SearchQuery{Filter: "tags.gate = 'passed'", MaxResults: 10})
	if err != nil || len(vs) != 1 || vs[0].Name != "malnutrition-risk" || vs[0].Version != 2 {
		t.Fatalf("version tag search: %+v %v", vs, err)
	}
	vs, _, _ = s.SearchVersions(ctx, SearchQuery{Filter: "name='rutf-demand' AND version_number >= 2", MaxResults: 10})
	if len(vs) != 1 || vs[0].Version != 2 {
		t.Fatalf("version_number: %+v", vs)
	}

	// Pagination walks every version exactly once.
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		vs, next, err := s.SearchVersions(ctx, SearchQuery{MaxResults: 4, PageToken: token, OrderBy: []string{"name", "version_number"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			k := fmt.Sprint(v.Name, v.Version)
			if seen[k] {
				t.Fatalf("%s twice", k)
			}
			seen[k] = true
		}
		if next == "" {
			break
		}
		token = next
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(seen) != 6 {
		t.Fatalf("paged through %d versions", len(seen))
	}

	for _, q := range []SearchQuery{
		{Filter: "name = 'x' OR name = 'y'", MaxResults: 10},
		{Filter: "colour = 'red'", MaxResults: 10},
		{OrderBy: []string{"size DESC"}, MaxResults: 10},
		{PageToken: "not-a-token", MaxResults: 10},
		{PageToken: pageToken(SearchQuery{Filter: "name='a'"}, 2), MaxResults: 10},
		{MaxResults: MaxModelResults + 1},
		{MaxResults: -1},
	} {
		if _, _, err := s.SearchModels(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

func TestAuditFilters(t *testing.T) {
	ctx := WithReason(WithActor(context.Background(), "ci"), "nightly retrain")
	s := newService(t, backends[0].open(t)(), nil)
	mustCreate(t, s, "a")
	mustCreate(t, s, "b")
	register(t, s, "a")
	if err := s.SetAlias(ctx, "a", "production", 1); err != nil {
		t.Fatal(err)
	}
	evs, _, err := s.Audit(ctx, AuditQuery{Action: "alias"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("alias events: %v %v", evs, err)
	}
	if e := evs[0]; e.Actor != "ci" || e.Reason != "nightly retrain" || e.Details["alias"] != "production" || len(e.Before) == 0 || len(e.After) == 0 {
		t.Fatalf("event %+v", e)
	}
	all, _, _ := s.Audit(ctx, AuditQuery{})
	if len(all) != 4 || all[0].Action != ActionAliasSet {
		t.Fatalf("newest first: %d events, first %s", len(all), all[0].Action)
	}
	page1, tok, _ := s.Audit(ctx, AuditQuery{Limit: 3})
	page2, tok2, _ := s.Audit(ctx, AuditQuery{Limit: 3, PageToken: tok})
	if len(page1) != 3 || len(page2) != 1 || tok2 != "" || page2[0].ID == page1[2].ID {
		t.Fatalf("pages %d %d %q", len(page1), len(page2), tok2)
	}
	if evs, _, _ := s.Audit(ctx, AuditQuery{Since: time.Now().Add(time.Hour)}); len(evs) != 0 {
		t.Fatal("since in the future")
	}
	if _, _, err := s.Audit(ctx, AuditQuery{PageToken: "../x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad token: %v", err)
	}
}
