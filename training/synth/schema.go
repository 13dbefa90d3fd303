package synth

import "github.com/lantern-mlops/lantern/training/dataset"

// Regions are the demand dataset's regions, the levels of its region column.
var Regions = []string{"North", "East", "Central", "West", "South"}

// Statuses are the malnutrition labels, least to most severe.
var Statuses = []string{"none", "mam", "sam"}

func ptr(v float64) *float64 { return &v }

// DemandSchema is the schema of the demand dataset: one row per district and
// month, with the cartons of RUTF consumed as the target.
func DemandSchema() *dataset.Schema {
	return &dataset.Schema{
		Name: "demand",
		Fields: []dataset.Field{
			{Name: "district_id", Type: dataset.String, Required: true,
				Description: "District code, D001, D002, ..."},
			{Name: "region", Type: dataset.String, Required: true, Levels: append([]string(nil), Regions...),
				Description: "Region the district belongs to"},
			{Name: "month", Type: dataset.Month, Required: true, Min: ptr(2000 * 12),
				Description: "Month the report covers (YYYY-MM)"},
			{Name: "population", Type: dataset.Int, Required: true, Min: ptr(0), Max: ptr(20_000_000),
				Description: "District population (projection for the month)"},
			{Name: "admissions", Type: dataset.Int, Required: true, Min: ptr(0), Max: ptr(100_000),
				Description: "Children admitted for SAM treatment at the district's health facilities that month"},
			{Name: "consumption", Type: dataset.Float, Required: true, Min: ptr(0), Max: ptr(500_000),
				Description: "RUTF cartons consumed that month (the target; below true demand when stockout is true)"},
			{Name: "stockout", Type: dataset.Bool, Required: true,
				Description: "A facility ran out of RUTF during the month, so consumption is censored"},
			{Name: "flood", Type: dataset.Bool,
				Description: "A flood hit the district that month"},
			{Name: "displaced", Type: dataset.Int, Min: ptr(0), Max: ptr(5_000_000),
				Description: "People displaced into the district (current stock)"},
			{Name: "report_date", Type: dataset.Date, Min: ptr(10957), // 2000-01-01
				Description: "Day the monthly report was submitted"},
		},
		Key:    []string{"district_id", "month"},
		Time:   "month",
		Target: "consumption",
	}
}

// MalnutritionSchema is the schema of the malnutrition dataset: one row per
// child visit (screening or follow-up), labelled with acute-malnutrition status.
func MalnutritionSchema() *dataset.Schema {
	return &dataset.Schema{
		Name: "malnutrition",
		Fields: []dataset.Field{
			{Name: "child_id", Type: dataset.String, Required: true,
				Description: "Child identifier, C0000001, ...; the same child may have follow-up visits"},
			{Name: "district_id", Type: dataset.String, Required: true,
				Description: "District of the health facility or screening site"},
			{Name: "visit_date", Type: dataset.Date, Required: true, Min: ptr(10957), // 2000-01-01
				Description: "Day of the visit (YYYY-MM-DD)"},
			{Name: "age_months", Type: dataset.Int, Required: true, Min: ptr(6), Max: ptr(59),
				Description: "Age in completed months"},
			{Name: "sex", Type: dataset.String, Required: true, Levels: []string{"F", "M"},
				Description: "Sex"},
			{Name: "muac_mm", Type: dataset.Int, Required: true, Min: ptr(70), Max: ptr(230),
				Description: "Mid-upper arm circumference, millimetres"},
			{Name: "weight_kg", Type: dataset.Float, Min: ptr(2), Max: ptr(35),
				Description: "Weight, kilograms (missing where only MUAC was taken)"},
			{Name: "height_cm", Type: dataset.Float, Min: ptr(45), Max: ptr(130),
				Description: "Length or height, centimetres (missing where only MUAC was taken)"},
			{Name: "oedema", Type: dataset.Bool, Required: true,
				Description: "Bilateral pitting oedema"},
			{Name: "status", Type: dataset.String, Required: true, Levels: append([]string(nil), Statuses...),
				Description: "Acute-malnutrition status: none, mam (moderate) or sam (severe); the label"},
		},
		Key:    []string{"child_id", "visit_date"},
		Time:   "visit_date",
		Target: "status",
	}
}
