package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// MalnutritionConfig configures the malnutrition generator. The zero value
// (but for the seed) generates 20,000 visits in 60 districts over the 72
// months from 2020-01. For the rates, zero means the default and a negative
// value none.
type MalnutritionConfig struct {
	// Seed selects the dataset; the same seed gives the same rows.
	Seed uint64
	// Records is the number of visits, follow-ups included (default 20,000).
	Records int
	// Districts is the number of districts, D001, D002, ... (default 60). With
	// the same seed, a district has the same region as in the demand data.
	Districts int
	// Months is the number of months visits span (default 72).
	Months int
	// Start is the first month, "YYYY-MM" (default "2020-01").
	Start string
	// LabelNoise is the share of labels replaced by a neighbouring status
	// (none↔MAM, MAM↔SAM; MAM becomes none or SAM at random), chosen at
	// random (default 0.03).
	LabelNoise float64
	// FollowUpRate is the chance that a child labelled MAM or SAM is seen
	// again one to three months later (default 0.7; a tenth of it for
	// children labelled none).
	FollowUpRate float64
	// MUACOnlyRate is the share of visits where only MUAC and oedema were
	// assessed, so weight and height are empty and the label follows MUAC and
	// oedema alone (default 0.05).
	MUACOnlyRate float64
	// Shift, if set, lowers nutritional status in Shift.FloodDistricts from
	// Shift.FromMonth on by Shift.MUACDrop millimetres of MUAC.
	Shift *Shift
	// Defects injects data-quality defects (see Defects).
	Defects Defects
}

// MalnutritionStats describes a generated malnutrition dataset.
type MalnutritionStats struct {
	// Rows is the number of rows emitted, injected defects included.
	Rows int
	// Children is the number of distinct children; FollowUps the number of
	// visits after a child's first.
	Children, FollowUps int
	// Labels counts the labels written, noise included (defects excluded).
	Labels map[string]int
	// NoisyLabels counts labels that differ from the WHO rule on the row's
	// own measurements.
	NoisyLabels int
	// MUACOnly counts visits without weight and height.
	MUACOnly int
	// Injected counts the defects injected, by class.
	Injected map[Defect]int
}

// Region effects on the latent nutritional status (z-score units).
var regionStatus = [...]float64{-0.35, -0.2, 0, -0.05, 0.05}

const statusMean = -0.8 // mean latent nutritional status, before region and district effects

type child struct {
	id         string
	district   int
	sex        int // 0 F, 1 M
	birth      float64
	birthDay   int
	z, haz     float64
	visits     int
	lastStatus int
}

// Malnutrition generates the malnutrition dataset, passing each visit to
// emit in month order. It stops at the first error emit returns.
func Malnutrition(cfg MalnutritionConfig, emit func(row []any) error) (MalnutritionStats, error) {
	if cfg.Records == 0 {
		cfg.Records = 20_000
	}
	if cfg.Districts == 0 {
		cfg.Districts = 60
	}
	if cfg.Months == 0 {
		cfg.Months = 72
	}
	if cfg.Start == "" {
		cfg.Start = "2020-01"
	}
	if cfg.Records < 0 || cfg.Districts <= 0 || cfg.Months <= 0 {
		return MalnutritionStats{}, fmt.Errorf("synth: Records, Districts and Months must be positive")
	}
	start, err := dataset.ParseMonth(cfg.Start)
	if err != nil {
		return MalnutritionStats{}, fmt.Errorf("synth: Start: %w", err)
	}
	cfg.LabelNoise = rate(cfg.LabelNoise, 0.03)
	cfg.FollowUpRate = rate(cfg.FollowUpRate, 0.7)
	cfg.MUACOnlyRate = rate(cfg.MUACOnlyRate, 0.05)
	if err := cfg.Defects.validate(); err != nil {
		return MalnutritionStats{}, err
	}

	// District effects, from the same streams as the demand generator's
	// districts (so the regions agree), after its first draw.
	districtMean := make([]float64, cfg.Districts)
	districtIDs := make([]string, cfg.Districts)
	for i := range districtMean {
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
		reg := r.IntN(len(Regions))
		districtMean[i] = statusMean + regionStatus[reg] + 0.25*r.NormFloat64()
		districtIDs[i] = DistrictID(i)
	}
	shiftFrom, shiftDrop := math.Inf(1), make([]float64, cfg.Districts)
	if s := cfg.Shift; s != nil {
		from, idx, err := s.districts(cfg.Districts)
		if err != nil {
			return MalnutritionStats{}, err
		}
		drop := s.MUACDrop
		if drop == 0 {
			drop = 8
		}
		shiftFrom = from
		for _, i := range idx {
			shiftDrop[i] = drop
		}
	}

	st := MalnutritionStats{Labels: map[string]int{}}
	var inj *injector
	if len(cfg.Defects) > 0 {
		inj = newInjector(cfg.Defects, cfg.Seed, corruptMalnutrition)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d616c6e7574))
	// Visits per month follow the lean season (more screening), and add up
	// to Records exactly.
	weights, total := make([]float64, cfg.Months), 0.0
	for t := range weights {
		weights[t] = seasonal(0.3, int(start+float64(t))%12+1)
		total += weights[t]
	}
	pending := make([][]*child, cfg.Months) // follow-ups due, by month
	row := make([]any, 10)
	dates := dateCache{}
	done, cum := 0, 0.0
	for t := range cfg.Months {
		cum += weights[t]
		n := int(math.Round(float64(cfg.Records)*cum/total)) - done
		m := start + float64(t)
		moy := int(m)%12 + 1
		first := dataset.DateOf(dataset.MonthTime(m))
		days := int(dataset.DateOf(dataset.MonthTime(m+1)) - first)
		due := pending[t]
		pending[t] = nil
		for k := 0; k < max(n, len(due)); k++ {
			var c *child
			day := 1 + rng.IntN(days)
			if k < len(due) {
				c = due[k]
				c.z += 0.2 * rng.NormFloat64()
				if c.lastStatus > 0 { // treated
					c.z += 0.5 + 0.2*rng.Float64()
				}
				st.FollowUps++
			} else {
				st.Children++
				d := rng.IntN(cfg.Districts)
				age := 6 + rng.IntN(54)
				c = &child{
					id:       fmt.Sprintf("C%07d", st.Children),
					district: d,
					sex:      rng.IntN(2),
					birth:    m - float64(age),
					birthDay: 1 + rng.IntN(min(day, 28)),
					z:        districtMean[d] + rng.NormFloat64(),
					haz:      -1.2 + 0.95*rng.NormFloat64(),
				}
				c.haz += 0.3 * (c.z - statusMean)
			}
			c.visits++
			age := int(m - c.birth)
			if day < c.birthDay {
				age--
			}
			drop := 0.0
			if m >= shiftFrom {
				drop = shiftDrop[c.district]
			}
			v := measure(rng, c, age, moy, drop, cfg)
			c.lastStatus = v.label
			st.Labels[Statuses[v.label]]++
			if v.noisy {
				st.NoisyLabels++
			}
			if v.muacOnly {
				st.MUACOnly++
			}
			// Follow-up: always draw, so the stream does not depend on it.
			uFollow, wait := rng.Float64(), 1+rng.IntN(3)
			p := cfg.FollowUpRate
			if v.label == 0 {
				p /= 10
			}
			if uFollow < p && c.visits < 3 && t+wait < cfg.Months && int(m+float64(wait)-c.birth) <= 59 {
				pending[t+wait] = append(pending[t+wait], c)
			}

			row[0], row[1], row[2] = c.id, districtIDs[c.district], dates.get(first+float64(day-1))
			row[3], row[4], row[5] = int64(age), [...]string{"F", "M"}[c.sex], int64(v.muac)
			if v.muacOnly {
				row[6], row[7] = nil, nil
			} else {
				row[6], row[7] = v.weight, v.height
			}
			row[8], row[9] = v.oedema, Statuses[v.label]
			if inj == nil {
				st.Rows++
				err = emit(row)
			} else {
				err = inj.emit(row, !v.noisy && !v.muacOnly, emit)
			}
			if err != nil {
				return st, err
			}
		}
		done += n
	}
	if inj != nil {
		st.Rows, st.Injected = inj.rows, inj.injected
	}
	return st, nil
}

// MalnutritionFrame generates the malnutrition dataset into a frame. It fails
// if cfg.Defects includes BadType, which a frame cannot hold.
func MalnutritionFrame(cfg MalnutritionConfig) (*dataset.Frame, MalnutritionStats, error) {
	f := dataset.NewFrame(MalnutritionSchema())
	st, err := Malnutrition(cfg, f.AppendRow)
	return f, st, err
}

type visit struct {
	muac            int
	weight, height  float64
	oedema          bool
	label           int
	noisy, muacOnly bool
}

// measure draws a visit's anthropometry from the child's latent status and
// labels it. It makes the same draws whatever happens.
func measure(r *rand.Rand, c *child, age, moy int, muacDrop float64, cfg MalnutritionConfig) visit {
	e1, e2, uOed, uOnly, uNoise, other := r.NormFloat64(), r.NormFloat64(), r.Float64(), r.Float64(), r.Float64(), r.IntN(2)
	// The lean season and a shift lower the status at this visit.
	z := c.z - 0.3*max(0, math.Cos(2*math.Pi*(float64(moy)-7)/12)) - muacDrop/(11*0.75)
	whz := clamp(0.8*z+0.6*e1, -4.5, 3.5)
	var v visit
	v.height = math.Round(clamp(heightForAge(age, c.sex)+heightSD(age)*clamp(c.haz, -4.5, 3.5), 46, 128)*10) / 10
	v.weight = math.Round(weightForHeight(v.height, c.sex)*(1+0.085*whz)*10) / 10
	v.muac = int(math.Round(clamp(muacForAge(age, c.sex)+11*(0.75*z+0.66*e2), 80, 220)))
	v.oedema = uOed < 0.01+0.03*b2f(z < -2.5)
	v.muacOnly = uOnly < cfg.MUACOnlyRate
	truth := WHOStatus(v.muac, v.oedema, math.NaN())
	if !v.muacOnly {
		truth = WHOStatus(v.muac, v.oedema, WHZ(v.weight, v.height, c.sex == 1))
	}
	v.label = truth
	if uNoise < cfg.LabelNoise {
		// Labelling errors happen between neighbouring classes (a MUAC read
		// a few millimetres off, a z-score looked up in the wrong row), not
		// between SAM and well-nourished.
		switch truth {
		case 0, 2:
			v.label = 1
		default:
			v.label = 2 * other
		}
		v.noisy = true
	}
	return v
}

// WHOStatus labels a child 6-59 months old by the WHO criteria: SAM (2) if
// MUAC < 115 mm, bilateral oedema, or weight-for-height z < -3; MAM (1) if
// MUAC < 125 mm or z < -2; else none (0). A NaN z is not assessed.
func WHOStatus(muacMM int, oedema bool, whz float64) int {
	switch {
	case muacMM < 115 || oedema || whz < -3:
		return 2
	case muacMM < 125 || whz < -2:
		return 1
	}
	return 0
}

// WHZ approximates the weight-for-height z-score against the WHO growth
// standard (medians interpolated every 5 cm, a coefficient of variation of
// 8.5%); male selects the boys' table.
func WHZ(weightKg, heightCm float64, male bool) float64 {
	sex := 0
	if male {
		sex = 1
	}
	return (weightKg/weightForHeight(heightCm, sex) - 1) / 0.085
}

// WHO median weight (kg) for length/height every 5 cm from 45 to 130 cm.
var wfhMedian = [2][18]float64{
	{2.5, 3.4, 4.6, 5.9, 7.2, 8.3, 9.3, 10.2, 11.3, 12.5, 13.9, 15.2, 16.8, 18.4, 20.2, 22.2, 24.4, 26.8}, // girls
	{2.4, 3.3, 4.5, 5.9, 7.4, 8.6, 9.6, 10.4, 11.4, 12.9, 14.1, 15.4, 16.8, 18.3, 19.9, 21.8, 23.9, 26.2}, // boys
}

func weightForHeight(h float64, sex int) float64 {
	return interp(wfhMedian[sex][:], 45, 5, h)
}

// WHO median height (cm) and its SD at 6, 12, 24, 36, 48 and 60 months; MUAC
// median (mm) at the same ages.
var (
	hfaAges   = []float64{6, 12, 24, 36, 48, 60}
	hfaMedian = [2][]float64{{65.7, 74.0, 85.7, 95.1, 102.7, 109.4}, {67.6, 75.7, 87.1, 96.1, 103.3, 110.0}}
	hfaSD     = []float64{2.3, 2.6, 3.1, 3.8, 4.2, 4.7}
	muacMed   = [2][]float64{{139, 146, 153, 158, 162, 166}, {143, 149, 155, 160, 164, 168}}
)

func heightForAge(age, sex int) float64 { return interpAt(hfaAges, hfaMedian[sex], float64(age)) }
func heightSD(age int) float64          { return interpAt(hfaAges, hfaSD, float64(age)) }
func muacForAge(age, sex int) float64   { return interpAt(hfaAges, muacMed[sex], float64(age)) }

// interp interpolates a table sampled every step from x0, clamping at the ends.
func interp(tab []float64, x0, step, x float64) float64 {
	p := (x - x0) / step
	if p <= 0 {
		return tab[0]
	}
	i := int(p)
	if i >= len(tab)-1 {
		return tab[len(tab)-1] + (p-float64(len(tab)-1))*(tab[len(tab)-1]-tab[len(tab)-2])
	}
	return tab[i] + (p-float64(i))*(tab[i+1]-tab[i])
}

func interpAt(xs, ys []float64, x float64) float64 {
	if x <= xs[0] {
		return ys[0]
	}
	for i := 1; i < len(xs); i++ {
		if x <= xs[i] {
			return ys[i-1] + (x-xs[i-1])/(xs[i]-xs[i-1])*(ys[i]-ys[i-1])
		}
	}
	return ys[len(ys)-1]
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func corruptMalnutrition(d Defect, row []any, rng *rand.Rand) bool {
	switch d {
	case ConflictingDuplicate:
		row[5] = row[5].(int64) + 3
	case FutureTime:
		v, _ := dataset.ParseDate(row[2].(string))
		row[2] = dataset.FormatDate(v + 3653)
	case Negative:
		w, ok := row[6].(float64)
		if !ok {
			return false
		}
		row[6] = -w
	case Impossible:
		row[3] = int64(200)
	case UnknownLevel:
		row[4] = pick(rng, []string{"X", "f", "U", "male"})
	case Inconsistent:
		if row[9] == "sam" {
			return false
		}
		row[8] = true
	case MissingRequired:
		row[5] = nil
	case BadType:
		row[5] = pick(rng, []string{"12O", "one-twenty", "11.5cm", "?"})
	default:
		return false
	}
	return true
}
