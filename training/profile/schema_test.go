package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The JSON Schema in docs/ must describe exactly what the code writes.

const schemaPath = "../../docs/profile.schema.json"

// schemaTypes maps the schema's definitions ("" is the root) to Go types.
var schemaTypes = map[string]reflect.Type{
	"":            reflect.TypeFor[Profile](),
	"settings":    reflect.TypeFor[Settings](),
	"sketch_info": reflect.TypeFor[SketchInfo](),
	"time":        reflect.TypeFor[TimeRange](),
	"numeric":     reflect.TypeFor[Numeric](),
	"categorical": reflect.TypeFor[Categorical](),
	"category":    reflect.TypeFor[Category](),
	"other":       reflect.TypeFor[Other](),
	"target":      reflect.TypeFor[Target](),
	"predictions": reflect.TypeFor[Predictions](),
	"seasonal":    reflect.TypeFor[Seasonal](),
	"month":       reflect.TypeFor[Month](),
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return s
}

func TestSchemaMatchesTypes(t *testing.T) {
	s := loadSchema(t)
	defs := s["$defs"].(map[string]any)
	if len(defs)+1 != len(schemaTypes) {
		t.Errorf("schema has %d definitions, the code %d types", len(defs), len(schemaTypes)-1)
	}
	for name, typ := range schemaTypes {
		def := s
		if name != "" {
			d, ok := defs[name].(map[string]any)
			if !ok {
				t.Errorf("schema has no definition %q for %s", name, typ)
				continue
			}
			def = d
		}
		var props, required []string
		for p := range def["properties"].(map[string]any) {
			props = append(props, p)
		}
		for _, r := range def["required"].([]any) {
			required = append(required, r.(string))
		}
		var fields, always []string
		for f := range typ.Fields() {
			tag := f.Tag.Get("json")
			jname, opts, _ := strings.Cut(tag, ",")
			fields = append(fields, jname)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, jname)
			}
		}
		slices.Sort(props)
		slices.Sort(fields)
		slices.Sort(required)
		slices.Sort(always)
		if !slices.Equal(props, fields) {
			t.Errorf("%s: schema properties %v, Go fields %v", typ, props, fields)
		}
		if !slices.Equal(required, always) {
			t.Errorf("%s: schema requires %v, Go always writes %v", typ, required, always)
		}
	}
}

func TestProfilesMatchSchema(t *testing.T) {
	s := loadSchema(t)
	example, err := os.ReadFile("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{"testdata/example.json": example}
	spec, rows := smallRows()
	p := build(t, spec, &Options{IncludeSketches: true}, append(rows, Row{Num: []float64{math.Inf(1), 1, 5}, Cat: []string{"z"}, Time: math.NaN(), Target: 1, Pred: 1}))
	docs["small"], _ = json.Marshal(p)
	p = build(t, Spec{Numeric: []string{"muac"}, Target: "status", Task: Classification, Classes: []string{"none", "sam"}},
		nil, []Row{{Num: []float64{120}, Label: "sam", Class: 1, Proba: []float64{0.2, 0.8}}, {Num: []float64{140}, Class: 0}})
	docs["classification"], _ = json.Marshal(p)
	for name, doc := range docs {
		var v any
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if errs := validate(s, s, v, "$"); len(errs) > 0 {
			t.Errorf("%s does not match the schema:\n  %s", name, strings.Join(errs, "\n  "))
		}
	}
	// And the validator is not vacuous.
	bad := map[string]any{"schema_version": "lantern.profile/v2", "rows": json.Number("-1")}
	if errs := validate(s, s, bad, "$"); len(errs) < 3 {
		t.Errorf("validator accepted a bad document: %v", errs)
	}
}

// validate checks v against the subset of JSON Schema the profile schema
// uses: type, required, properties, items, $ref, enum, const, minimum,
// maximum, minItems, maxItems, minLength, pattern.
func validate(root, s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		return validate(root, root["$defs"].(map[string]any)[name].(map[string]any), v, at)
	}
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, a...)) }
	num := func(x any) (float64, bool) {
		n, ok := x.(json.Number)
		if !ok {
			f, ok := x.(float64)
			return f, ok
		}
		f, err := n.Float64()
		return f, err == nil
	}
	if typ, ok := s["type"].(string); ok {
		okType := false
		switch typ {
		case "object":
			_, okType = v.(map[string]any)
		case "array":
			_, okType = v.([]any)
		case "string":
			_, okType = v.(string)
		case "boolean":
			_, okType = v.(bool)
		case "number":
			_, okType = num(v)
		case "integer":
			f, isNum := num(v)
			okType = isNum && f == math.Trunc(f)
		}
		if !okType {
			fail("want %s, got %v", typ, v)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		fail("%v not in %v", v, enum)
	}
	if c, ok := s["const"]; ok && c != v {
		fail("%v, want %v", v, c)
	}
	if f, ok := num(v); ok {
		if m, ok := num(s["minimum"]); ok && f < m {
			fail("%v < minimum %v", f, m)
		}
		if m, ok := num(s["maximum"]); ok && f > m {
			fail("%v > maximum %v", f, m)
		}
	}
	if str, ok := v.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
		if m, ok := num(s["minLength"]); ok && float64(len(str)) < m {
			fail("%q shorter than %v", str, m)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		for _, r := range s["required"].([]any) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %q", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, validate(root, ps, x, at+"."+k)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if m, ok := num(s["minItems"]); ok && float64(len(arr)) < m {
			fail("%d items < %v", len(arr), m)
		}
		if m, ok := num(s["maxItems"]); ok && float64(len(arr)) > m {
			fail("%d items > %v", len(arr), m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, validate(root, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}
