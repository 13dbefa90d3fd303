package filter

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		kind    Kind
		clauses []string
		want    string // FormatOrderBy of the result
	}{
		{Models, nil, "name ASC"},
		{Versions, nil, "last_updated_timestamp DESC, name ASC, version_number DESC"},
		{Versions, []string{}, "last_updated_timestamp DESC, name ASC, version_number DESC"},
		{Models, []string{"name"}, "name ASC"},
		{Models, []string{"name DESC"}, "name DESC"},
		{Models, []string{"name desc"}, "name DESC"},
		{Models, []string{"  name   Asc  "}, "name ASC"},
		{Models, []string{"last_updated_timestamp DESC"}, "last_updated_timestamp DESC, name ASC"},
		{Models, []string{"timestamp"}, "last_updated_timestamp ASC, name ASC"},
		{Models, []string{"timestamp DESC"}, "last_updated_timestamp DESC, name ASC"},
		{Models, []string{"creation_timestamp", "name DESC"}, "creation_timestamp ASC, name DESC"},
		{Models, []string{"attribute.name DESC"}, "name DESC"},
		{Models, []string{"`name` DESC"}, "name DESC"},
		{Models, []string{`"last_updated_timestamp"`}, "last_updated_timestamp ASC, name ASC"},
		{Versions, []string{"version_number DESC"}, "version_number DESC, name ASC"},
		{Versions, []string{"name", "version_number ASC"}, "name ASC, version_number ASC"},
		{Versions, []string{"creation_timestamp DESC"}, "creation_timestamp DESC, name ASC, version_number DESC"},
		{Versions, []string{"last_updated_timestamp"}, "last_updated_timestamp ASC, name ASC, version_number DESC"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.clauses, ","), func(t *testing.T) {
			keys, err := ParseOrderBy(tt.kind, tt.clauses)
			if err != nil {
				t.Fatal(err)
			}
			if got := FormatOrderBy(keys); got != tt.want {
				t.Fatalf("ParseOrderBy(%v, %q) = %q, want %q", tt.kind, tt.clauses, got, tt.want)
			}
		})
	}
}

func TestParseOrderByDefaultIsACopy(t *testing.T) {
	a, _ := ParseOrderBy(Versions, nil)
	a[0].Desc = false
	b, _ := ParseOrderBy(Versions, nil)
	if !b[0].Desc {
		t.Fatal("the default order was modified through a result")
	}
}

func TestParseOrderByErrors(t *testing.T) {
	tests := []struct {
		kind    Kind
		clauses []string
		want    string
	}{
		{Models, []string{"foo"}, "Invalid order by key 'foo' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, timestamp}'"},
		{Models, []string{"version_number"}, "Invalid order by key 'version_number' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, timestamp}'"},
		{Versions, []string{"timestamp"}, "Invalid order by key 'timestamp' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, version_number}'"},
		{Versions, []string{"version"}, "Invalid order by key 'version' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, version_number}'"},
		{Versions, []string{"current_stage"}, "Invalid order by key 'current_stage' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, version_number}'"},
		{Models, []string{"Name"}, "Invalid order by key 'Name' specified. Valid keys are '{creation_timestamp, last_updated_timestamp, name, timestamp}'"},
		{Models, []string{"name UP"}, "Invalid ordering key in order_by clause 'name UP'. Use ASC or DESC."},
		{Models, []string{"name ASC DESC"}, "Invalid order_by clause 'name ASC DESC'. Could not be parsed."},
		{Models, []string{""}, "Invalid order_by clause ''. Could not be parsed."},
		{Models, []string{"   "}, "Invalid order_by clause '   '. Could not be parsed."},
		{Models, []string{"`name DESC"}, "Invalid order_by clause '`name DESC'. Could not be parsed."},
		{Models, []string{"`name`DESC"}, "Invalid order_by clause '`name`DESC'. Could not be parsed."},
		{Models, []string{"tags.team"}, "Invalid order_by entity: tag. Only attributes can be used in order_by: '{creation_timestamp, last_updated_timestamp, name, timestamp}'"},
		{Versions, []string{"metrics.acc DESC"}, "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"},
		{Models, []string{"name", "name DESC"}, "`order_by` contains duplicate fields: ['name', 'name DESC']"},
		{Models, []string{"timestamp", "last_updated_timestamp"}, "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp']"},
		{0, []string{"name"}, "Invalid search kind Kind(0)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.clauses, ","), func(t *testing.T) {
			keys, err := ParseOrderBy(tt.kind, tt.clauses)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("ParseOrderBy(%v, %q) = %v, %v; want an *Error", tt.kind, tt.clauses, keys, err)
			}
			if fe.Msg != tt.want {
				t.Fatalf("error = %q\nwant    %q", fe.Msg, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	mk := func(name string, version, updated int64) *obj {
		return &obj{name: name, version: version, updated: updated}
	}
	versions := []*obj{
		mk("b", 1, 100), mk("a", 2, 300), mk("a", 1, 100), mk("b", 2, 300), mk("c", 1, 200), mk("a", 3, 100),
	}
	tests := []struct {
		kind    Kind
		clauses []string
		want    string
	}{
		// Default for versions: last updated first, then name, then newest version.
		{Versions, nil, "a/2 b/2 c/1 a/3 a/1 b/1"},
		{Versions, []string{"name"}, "a/3 a/2 a/1 b/2 b/1 c/1"},
		{Versions, []string{"name DESC", "version_number ASC"}, "c/1 b/1 b/2 a/1 a/2 a/3"},
		{Versions, []string{"version_number"}, "a/1 b/1 c/1 a/2 b/2 a/3"},
		{Versions, []string{"last_updated_timestamp"}, "a/3 a/1 b/1 c/1 a/2 b/2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.clauses, ","), func(t *testing.T) {
			keys, err := ParseOrderBy(tt.kind, tt.clauses)
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Clone(versions)
			slices.SortFunc(got, func(a, b *obj) int { return Compare(keys, a, b) })
			var names []string
			for _, o := range got {
				names = append(names, o.name+"/"+string(rune('0'+o.version)))
			}
			if s := strings.Join(names, " "); s != tt.want {
				t.Fatalf("order %q = %s, want %s", tt.clauses, s, tt.want)
			}
		})
	}
}

func TestCompareUnsetLast(t *testing.T) {
	keys := []OrderKey{{Attr: AttrRunID}}
	set, unset := &obj{runID: "z"}, &obj{noRun: true}
	for _, desc := range []bool{false, true} {
		keys[0].Desc = desc
		if Compare(keys, set, unset) >= 0 || Compare(keys, unset, set) <= 0 {
			t.Errorf("desc=%v: an unset value must sort last", desc)
		}
		if Compare(keys, unset, unset) != 0 {
			t.Errorf("two unset values must tie")
		}
	}
}

func TestCompareCodePointOrder(t *testing.T) {
	keys, _ := ParseOrderBy(Models, []string{"name"})
	// Upper case before lower case, ASCII before accented letters: Python's str order.
	names := []string{"é", "b", "B", "a", "Z", "😀", "ａ"}
	objs := make([]*obj, len(names))
	for i, n := range names {
		objs[i] = &obj{name: n}
	}
	slices.SortFunc(objs, func(a, b *obj) int { return Compare(keys, a, b) })
	var got []string
	for _, o := range objs {
		got = append(got, o.name)
	}
	if want := []string{"B", "Z", "a", "b", "é", "ａ", "😀"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
