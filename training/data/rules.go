package data

import (
	"fmt"
	"math"
	"strconv"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// A rule is a row-level check beyond what the schema states: a cross-field
// or cross-row consistency rule, or a timeliness rule. Rules are chosen by
// the schema's name and run on the rows the loader keeps; a rule whose
// columns are not all in the file is skipped.
type rule struct {
	dim        Dimension
	name, desc string
	cols       []string
	setMissing string // column set missing when the rule fails; "" keeps the row as is
	// make returns the check for one load. check(i, want) reports whether
	// row i breaks the rule and, when want is set, the value and the reason
	// for the example. It may keep state across rows.
	make func(l *loader, col func(string) *dataset.Column) func(i int, want bool) (bad bool, value, reason string)
}

type activeRule struct {
	ch         *Check
	check      func(i int, want bool) (bool, string, string)
	setMissing int // column index, or -1
}

// rulesBySchema are the rules of the schemas training/synth defines.
var rulesBySchema = map[string][]rule{
	"demand":       demandRules,
	"malnutrition": malnutritionRules,
}

// activateRules sets up the schema's rules, after bind.
func (l *loader) activateRules() {
	col := func(name string) *dataset.Column { return l.frame.Col(name) }
next:
	for _, r := range rulesBySchema[l.schema.Name] {
		for _, c := range r.cols {
			if j := l.colIndex(c); j < 0 || !l.cols[j].present {
				continue next
			}
		}
		a, sm := Kept, -1
		if r.setMissing != "" {
			a, sm = SetMissing, l.colIndex(r.setMissing)
		}
		desc := r.desc
		if r.name == "late_report" {
			desc = fmt.Sprintf(desc, l.opts.LateAfterDays)
		}
		l.rules = append(l.rules, &activeRule{
			ch:         l.check(r.dim, r.name, r.setMissing, a, desc),
			check:      r.make(l, col),
			setMissing: sm,
		})
	}
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

var demandRules = []rule{
	{
		dim: Consistency, name: "admissions_le_population", setMissing: "admissions",
		desc: "admissions exceed the district's population",
		cols: []string{"admissions", "population"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			adm, pop := col("admissions"), col("population")
			return func(i int, want bool) (bool, string, string) {
				if !(adm.Num[i] > pop.Num[i]) { // false when either is missing
					return false, "", ""
				}
				if !want {
					return true, "", ""
				}
				return true, num(adm.Num[i]), "admissions above population " + num(pop.Num[i])
			}
		},
	},
	{
		dim: Consistency, name: "zero_consumption_with_admissions",
		desc: "no RUTF consumed in a month with admissions and no stock-out",
		cols: []string{"consumption", "admissions", "stockout"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			cons, adm, so := col("consumption"), col("admissions"), col("stockout")
			return func(i int, want bool) (bool, string, string) {
				if cons.Num[i] != 0 || !(adm.Num[i] > 0) || so.Num[i] != 0 {
					return false, "", ""
				}
				return true, "0", num(adm.Num[i]) + " admissions, no stock-out"
			}
		},
	},
	{
		dim: Consistency, name: "region_per_district",
		desc: "a district appears under another region than in its first row",
		cols: []string{"district_id", "region"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			dc, rc := col("district_id"), col("region")
			var first []int32 // region code of each district code, -1 unknown
			return func(i int, want bool) (bool, string, string) {
				d, r := dc.Codes[i], rc.Codes[i]
				if d < 0 || r < 0 {
					return false, "", ""
				}
				for int(d) >= len(first) {
					first = append(first, -1)
				}
				switch f := first[d]; {
				case f < 0:
					first[d] = r
				case f != r:
					return true, rc.Dict[r], dc.Dict[d] + " was in " + rc.Dict[f]
				}
				return false, "", ""
			}
		},
	},
	{
		dim: Consistency, name: "report_before_month_end", setMissing: "report_date",
		desc: "the report is dated before the end of the month it covers",
		cols: []string{"report_date", "month"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			rd, m := col("report_date"), col("month")
			return func(i int, want bool) (bool, string, string) {
				if !(rd.Num[i] < dataset.MonthStart(m.Num[i]+1)-1) {
					return false, "", ""
				}
				return true, dataset.FormatDate(rd.Num[i]), "month " + dataset.FormatMonth(m.Num[i]) + " had not ended"
			}
		},
	},
	{
		dim: Timeliness, name: "late_report",
		desc: "the report was submitted more than %d days after the end of its month",
		cols: []string{"report_date", "month"},
		make: func(l *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			rd, m := col("report_date"), col("month")
			limit := float64(l.opts.LateAfterDays)
			return func(i int, want bool) (bool, string, string) {
				end := dataset.MonthStart(m.Num[i]+1) - 1
				if !(rd.Num[i]-end > limit) {
					return false, "", ""
				}
				if !want {
					return true, "", ""
				}
				return true, dataset.FormatDate(rd.Num[i]), fmt.Sprintf("%d days after the end of %s", int(rd.Num[i]-end), dataset.FormatMonth(m.Num[i]))
			}
		},
	},
}

var malnutritionRules = []rule{
	{
		dim: Consistency, name: "status_vs_muac_oedema",
		desc: "the status is less severe than MUAC or oedema imply (WHO: SAM if MUAC < 115 mm or oedema, at least MAM if MUAC < 125 mm)",
		cols: []string{"status", "muac_mm", "oedema"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			st, muac, oed := col("status"), col("muac_mm"), col("oedema")
			severity := make([]int, 0, len(st.Dict))
			return func(i int, want bool) (bool, string, string) {
				code := st.Codes[i]
				if code < 0 {
					return false, "", ""
				}
				for len(severity) < len(st.Dict) {
					severity = append(severity, map[string]int{"none": 0, "mam": 1, "sam": 2}[st.Dict[len(severity)]])
				}
				implied := 0
				switch {
				case oed.Num[i] == 1 || muac.Num[i] < 115:
					implied = 2
				case muac.Num[i] < 125:
					implied = 1
				}
				if severity[code] >= implied {
					return false, "", ""
				}
				if !want {
					return true, "", ""
				}
				return true, st.Dict[code], fmt.Sprintf("MUAC %s mm, oedema %t", num(muac.Num[i]), oed.Num[i] == 1)
			}
		},
	},
	{
		dim: Consistency, name: "weight_for_height", setMissing: "weight_kg",
		desc: "weight is implausible for height (body-mass index outside 8-25 kg/m², about |WHZ| > 5)",
		cols: []string{"weight_kg", "height_cm"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			w, h := col("weight_kg"), col("height_cm")
			return func(i int, want bool) (bool, string, string) {
				bmi := w.Num[i] / (h.Num[i] * h.Num[i] / 1e4)
				if math.IsNaN(bmi) || (bmi >= 8 && bmi <= 25) {
					return false, "", ""
				}
				return true, num(w.Num[i]), fmt.Sprintf("height %s cm: BMI %.1f", num(h.Num[i]), bmi)
			}
		},
	},
	{
		dim: Consistency, name: "age_across_visits",
		desc: "a child's age does not match its earlier visit (birth month differs by more than 2)",
		cols: []string{"child_id", "visit_date", "age_months"},
		make: func(_ *loader, col func(string) *dataset.Column) func(int, bool) (bool, string, string) {
			ids, vd, age := col("child_id"), col("visit_date"), col("age_months")
			var birth []float32 // implied birth month of each child code, NaN unknown
			return func(i int, want bool) (bool, string, string) {
				c := ids.Codes[i]
				b := dataset.MonthOfDate(vd.Num[i]) - age.Num[i]
				if c < 0 || math.IsNaN(b) {
					return false, "", ""
				}
				for int(c) >= len(birth) {
					birth = append(birth, float32(math.NaN()))
				}
				switch f := float64(birth[c]); {
				case math.IsNaN(f):
					birth[c] = float32(b)
				case math.Abs(f-b) > 2:
					if !want {
						return true, "", ""
					}
					return true, num(age.Num[i]), fmt.Sprintf("born about %s by this visit, %s by an earlier one",
						dataset.FormatMonth(b), dataset.FormatMonth(f))
				}
				return false, "", ""
			}
		},
	},
}
