package features

import (
	"fmt"
	"math"
	"strings"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Columns of a malnutrition Frame that BuildMalnutrition reads.
const (
	ColChild     = "child_id"
	ColVisitDate = "visit_date" // dataset.Date
	ColAge       = "age_months"
	ColSex       = "sex" // "F" or "M"
	ColMUAC      = "muac_mm"
	ColWeight    = "weight_kg"
	ColHeight    = "height_cm"
	ColOedema    = "oedema" // bool
	ColStatus    = "status" // "none", "mam" or "sam"
)

// Names of the malnutrition features, in matrix order.
const (
	AgeMonths = "age_months" // age in months
	SexMale   = "sex_male"   // 1 for a boy, 0 for a girl
	MUACmm    = "muac_mm"    // mid-upper arm circumference, mm
	WeightKg  = "weight_kg"  // weight, kg
	HeightCm  = "height_cm"  // height (or length), cm
	Oedema    = "oedema"     // 1 if bilateral pitting oedema
	BMI       = "bmi"        // weight / height² (kg/m²): a weight-for-height proxy
)

// MalnutritionNames are the malnutrition feature names, in matrix order.
var MalnutritionNames = []string{AgeMonths, SexMale, MUACmm, WeightKg, HeightCm, Oedema, BMI}

// Classes are the malnutrition status labels; a label's class index is
// its position (0 none, 1 MAM, 2 SAM).
var Classes = []string{"none", "mam", "sam"}

// MalnutritionInput is one visit's measurements, the raw record a client
// holds.
type MalnutritionInput struct {
	AgeMonths float64
	Sex       string // "F" or "M" (any case)
	MUACmm    float64
	WeightKg  float64
	HeightCm  float64
	Oedema    bool
}

// MalnutritionVector appends the features of in to dst[:0] and returns it,
// in the order of MalnutritionNames. Every measurement is required: the
// classifiers do not take missing values.
func MalnutritionVector(in MalnutritionInput, dst []float32) ([]float32, error) {
	sex, ok := sexCode(in.Sex)
	if !ok {
		return dst, fmt.Errorf("%w: sex %q is not F or M", ErrMissing, in.Sex)
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{AgeMonths, in.AgeMonths}, {MUACmm, in.MUACmm}, {WeightKg, in.WeightKg}, {HeightCm, in.HeightCm}} {
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return dst, fmt.Errorf("%w: %s is %v", ErrMissing, v.name, v.x)
		}
	}
	if in.HeightCm <= 0 {
		return dst, fmt.Errorf("%w: height_cm %v is not positive", ErrMissing, in.HeightCm)
	}
	oedema := float32(0)
	if in.Oedema {
		oedema = 1
	}
	h := in.HeightCm / 100
	return append(dst[:0], float32(in.AgeMonths), sex, float32(in.MUACmm), float32(in.WeightKg),
		float32(in.HeightCm), oedema, float32(in.WeightKg/(h*h))), nil
}

func sexCode(s string) (float32, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "M":
		return 1, true
	case "F":
		return 0, true
	}
	return 0, false
}

// Malnutrition is the feature matrix of the complete visits of a frame.
type Malnutrition struct {
	// X holds the features (MalnutritionNames).
	X *dataset.Matrix
	// Y holds class indices into Classes; nil when the frame has no
	// status column.
	Y []int
	// Rows[i] is the frame row of sample i.
	Rows []int
	// Child and VisitDate (days since 1970-01-01, -1 if missing) identify
	// each sample (nil if the frame lacks the column); split by child or by
	// date to keep a child's visits on one side.
	Child     []string
	VisitDate []int
	// Dropped counts the frame rows left out: a measurement or, when the
	// frame has a status column, the status missing or unknown.
	Dropped int
}

// BuildMalnutrition computes the features of every complete row of f.
// Rows with a missing measurement (or a missing or unknown status, when f
// has a status column) are left out and counted in Dropped.
func BuildMalnutrition(f *dataset.Frame) (*Malnutrition, error) {
	var num [5][]float64
	for k, name := range []string{ColAge, ColMUAC, ColWeight, ColHeight, ColOedema} {
		var err error
		if num[k], err = numCol(f, name, true); err != nil {
			return nil, err
		}
	}
	age, muac, weight, height, oedema := num[0], num[1], num[2], num[3], num[4]
	sex, err := f.MustCol(ColSex)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrColumn, err)
	}
	if sex.Type != dataset.String {
		return nil, fmt.Errorf("%w: %q is %s, want string", ErrColumn, ColSex, sex.Type)
	}
	status := f.Col(ColStatus)
	var classOf []int // status code -> class index, -1 unknown
	if status != nil {
		if status.Type != dataset.String {
			return nil, fmt.Errorf("%w: %q is %s, want string", ErrColumn, ColStatus, status.Type)
		}
		classOf = make([]int, len(status.Dict))
		for c, s := range status.Dict {
			classOf[c] = -1
			for k, name := range Classes {
				if strings.EqualFold(strings.TrimSpace(s), name) {
					classOf[c] = k
				}
			}
		}
	}
	child := f.Col(ColChild)
	visit, err := numCol(f, ColVisitDate, false)
	if err != nil {
		return nil, err
	}

	n := f.Len()
	out := &Malnutrition{X: &dataset.Matrix{Names: MalnutritionNames, Cols: make([][]float32, len(MalnutritionNames))}}
	for j := range out.X.Cols {
		out.X.Cols[j] = make([]float32, 0, n)
	}
	row := make([]float32, 0, len(MalnutritionNames))
	for i := range n {
		class := -1
		if status != nil {
			if code := status.Codes[i]; code >= 0 {
				class = classOf[code]
			}
			if class < 0 {
				out.Dropped++
				continue
			}
		}
		if math.IsNaN(oedema[i]) {
			out.Dropped++
			continue
		}
		in := MalnutritionInput{AgeMonths: age[i], Sex: sex.String(i), MUACmm: muac[i], WeightKg: weight[i], HeightCm: height[i], Oedema: oedema[i] == 1}
		if row, err = MalnutritionVector(in, row); err != nil {
			out.Dropped++
			continue
		}
		for j, v := range row {
			out.X.Cols[j] = append(out.X.Cols[j], v)
		}
		if status != nil {
			out.Y = append(out.Y, class)
		}
		out.Rows = append(out.Rows, i)
		if child != nil {
			if child.Type == dataset.String {
				out.Child = append(out.Child, child.String(i))
			} else {
				out.Child = append(out.Child, fmt.Sprint(child.Num[i]))
			}
		}
		if visit != nil {
			day := -1
			if !math.IsNaN(visit[i]) {
				day = int(visit[i])
			}
			out.VisitDate = append(out.VisitDate, day)
		}
	}
	out.X.Rows = len(out.Rows)
	return out, nil
}

// MalnutritionMetadata returns the model metadata describing the malnutrition features
// and classes: "feature_names" and "class_names", comma-separated.
func MalnutritionMetadata() map[string]string {
	return map[string]string{
		"feature_names": strings.Join(MalnutritionNames, ","),
		"class_names":   strings.Join(Classes, ","),
	}
}
