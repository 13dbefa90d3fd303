package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// DemandConfig configures the demand generator. The zero value (but for the
// seed) generates 60 districts over the 72 months from 2020-01: about 4,200
// rows. For the rates, zero means the default and a negative value none.
type DemandConfig struct {
	// Seed selects the dataset; the same seed gives the same rows.
	Seed uint64
	// Districts is the number of districts, D001, D002, ... (default 60).
	Districts int
	// Months is the number of months (default 72).
	Months int
	// Start is the first month, "YYYY-MM" (default "2020-01").
	Start string
	// MissingRate is the share of district-months with no report at all, so
	// no row (default 0.02; three times as many in flood months).
	MissingRate float64
	// EmptyRate is the share of reports with an empty consumption (default 0.01).
	EmptyRate float64
	// LateRate is the share of reports submitted 46 to 135 days after the end
	// of the month (default 0.04); the others come 1 to 40 days after it.
	LateRate float64
	// Shift, if set, produces drifted data (see Shift).
	Shift *Shift
	// Defects injects data-quality defects (see Defects).
	Defects Defects
}

// Shift produces "drifted" data, for drift detection and retraining to find:
// from FromMonth on, the districts in FloodDistricts are flooded and stay
// worse off. Districts not listed produce exactly the rows they would without
// the shift.
type Shift struct {
	// FloodDistricts are the affected districts, e.g. "D003".
	FloodDistricts []string
	// FromMonth is the first affected month, "YYYY-MM".
	FromMonth string
	// Factor multiplies demand (admissions and consumption) in the affected
	// districts from FromMonth on, which are also flooded in FromMonth and
	// receive displaced people (demand; default 1.6).
	Factor float64
	// MUACDrop lowers the nutritional status of children in the affected
	// districts from FromMonth on by this many millimetres of MUAC (the
	// weight-for-height z-score falls with it), raising MAM and SAM
	// prevalence (malnutrition; default 8).
	MUACDrop float64
}

// DemandStats describes a generated demand dataset.
type DemandStats struct {
	// Rows is the number of rows emitted, injected defects included.
	Rows int
	// DistrictMonths is Districts × Months, the expected grid.
	DistrictMonths int
	// MissingReports counts district-months without a row.
	MissingReports int
	// EmptyConsumption counts rows with an empty consumption.
	EmptyConsumption int
	// LateReports counts reports submitted more than 45 days after the month.
	LateReports int
	// Stockouts counts rows with stockout set (consumption below demand).
	Stockouts int
	// Floods counts district-months with a flood.
	Floods int
	// Injected counts the defects injected, by class.
	Injected map[Defect]int
}

// Region effects: SAM admission rate, seasonal amplitude, flood probability
// per rainy-season month, conflict displacement probability per month.
var regionEffects = [...]struct{ rate, amp, flood, conflict float64 }{
	{1.5, 0.60, 0.010, 0.006}, // North: arid, strong lean season
	{1.2, 0.45, 0.015, 0.008}, // East: conflict-affected
	{1.0, 0.35, 0.020, 0.002}, // Central
	{0.9, 0.40, 0.030, 0.002}, // West
	{0.8, 0.30, 0.045, 0.002}, // South: river basin, floods
}

// floodEffect multiplies demand 0..3 months after a flood: the peak lags by a month.
var floodEffect = [...]float64{1.10, 1.45, 1.30, 1.12}

const (
	baseRate         = 3.3e-4 // SAM admissions per person per month
	cartonsPerChild  = 1.1    // RUTF cartons per admitted child, over treatment
	lateAfterDays    = 45
	futureOffsetMons = 120
)

type districtGen struct {
	rng                  *rand.Rand
	id, region           string
	reg                  int
	pop0, growth         float64
	rate, amp, delayMed  float64
	prevAdm, ewma        float64
	stockout             bool
	floodAge             int // months since the last flood, -1 if none yet
	displaced            float64
	shifted              bool
	shiftFactor, shiftAt float64
}

func (c DemandConfig) withDefaults() (DemandConfig, float64, error) {
	if c.Districts == 0 {
		c.Districts = 60
	}
	if c.Months == 0 {
		c.Months = 72
	}
	if c.Start == "" {
		c.Start = "2020-01"
	}
	if c.Districts < 0 || c.Months < 0 {
		return c, 0, fmt.Errorf("synth: negative Districts or Months")
	}
	start, err := dataset.ParseMonth(c.Start)
	if err != nil {
		return c, 0, fmt.Errorf("synth: Start: %w", err)
	}
	c.MissingRate = rate(c.MissingRate, 0.02)
	c.EmptyRate = rate(c.EmptyRate, 0.01)
	c.LateRate = rate(c.LateRate, 0.04)
	if err := c.Defects.validate(); err != nil {
		return c, 0, err
	}
	return c, start, nil
}

func rate(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// DistrictID is the id of the i-th district (from 0): D001, D002, ...
func DistrictID(i int) string { return fmt.Sprintf("D%03d", i+1) }

// Demand generates the demand dataset, passing each row to emit in month
// order (all districts for a month, then the next month). It stops at the
// first error emit returns.
func Demand(cfg DemandConfig, emit func(row []any) error) (DemandStats, error) {
	cfg, start, err := cfg.withDefaults()
	if err != nil {
		return DemandStats{}, err
	}
	ds := make([]districtGen, cfg.Districts)
	for i := range ds {
		ds[i].init(cfg.Seed, i)
	}
	if s := cfg.Shift; s != nil {
		from, idx, err := s.districts(len(ds))
		if err != nil {
			return DemandStats{}, err
		}
		factor := s.Factor
		if factor == 0 {
			factor = 1.6
		}
		for _, i := range idx {
			ds[i].shifted, ds[i].shiftAt, ds[i].shiftFactor = true, from, factor
		}
	}
	st := DemandStats{DistrictMonths: cfg.Districts * cfg.Months}
	var inj *injector
	if len(cfg.Defects) > 0 {
		inj = newInjector(cfg.Defects, cfg.Seed, corruptDemand)
	}
	dates := dateCache{}
	row := make([]any, 10)
	for t := range cfg.Months {
		m := start + float64(t)
		month := dataset.FormatMonth(m)
		moy := int(m)%12 + 1
		for i := range ds {
			d := &ds[i]
			r := d.step(cfg, m, t, moy)
			if r.flood {
				st.Floods++
			}
			if r.absent {
				st.MissingReports++
				continue
			}
			row[0], row[1], row[2] = d.id, d.region, month
			row[3], row[4] = int64(math.Round(r.pop)), int64(r.adm)
			if r.empty {
				row[5] = nil
				st.EmptyConsumption++
			} else {
				row[5] = r.consumption
			}
			row[6], row[7], row[8] = r.stockout, r.flood, int64(math.Round(d.displaced))
			row[9] = dates.get(dataset.DateOf(dataset.MonthTime(m+1)) - 1 + float64(r.delay))
			if r.stockout {
				st.Stockouts++
			}
			if r.delay > lateAfterDays {
				st.LateReports++
			}
			clean := !r.empty && r.delay <= lateAfterDays
			if inj == nil {
				st.Rows++
				err = emit(row)
			} else {
				err = inj.emit(row, clean, emit)
			}
			if err != nil {
				return st, err
			}
		}
	}
	if inj != nil {
		st.Rows, st.Injected = inj.rows, inj.injected
	}
	return st, nil
}

// DemandFrame generates the demand dataset into a frame. It fails if
// cfg.Defects includes BadType, which a frame cannot hold.
func DemandFrame(cfg DemandConfig) (*dataset.Frame, DemandStats, error) {
	f := dataset.NewFrame(DemandSchema())
	st, err := Demand(cfg, f.AppendRow)
	return f, st, err
}

// districts resolves the shift's districts (ids D001...) to indexes among n.
func (s *Shift) districts(n int) (from float64, idx []int, err error) {
	from, err = dataset.ParseMonth(s.FromMonth)
	if err != nil {
		return 0, nil, fmt.Errorf("synth: Shift.FromMonth: %w", err)
	}
	for _, id := range s.FloodDistricts {
		num, ok := strings.CutPrefix(id, "D")
		i, err := strconv.Atoi(num)
		if !ok || err != nil || i < 1 || i > n || DistrictID(i-1) != id {
			return 0, nil, fmt.Errorf("synth: Shift: unknown district %q (there are D001 to %s)", id, DistrictID(n-1))
		}
		idx = append(idx, i-1)
	}
	return from, idx, nil
}

func (d *districtGen) init(seed uint64, i int) {
	d.rng = rand.New(rand.NewPCG(seed, uint64(i)+1))
	r := d.rng
	d.id = DistrictID(i)
	d.reg = r.IntN(len(Regions))
	d.region = Regions[d.reg]
	e := regionEffects[d.reg]
	d.pop0 = clamp(math.Exp(math.Log(150_000)+0.6*r.NormFloat64()), 20_000, 3_000_000)
	d.growth = 0.028 + 0.008*r.NormFloat64()
	d.rate = baseRate * e.rate * math.Exp(0.3*r.NormFloat64())
	d.amp = clamp(e.amp+0.1*r.NormFloat64(), 0.1, 0.9)
	d.delayMed = 8 + 10*r.Float64()
	d.floodAge = -1
	d.prevAdm = d.pop0 * d.rate * seasonal(d.amp, 12) // December before the start, roughly
	d.ewma = cartonsPerChild * d.prevAdm
}

// seasonal is the lean-season factor of a month of the year (1..12): it
// peaks in July, so that admissions are highest from June to August and
// consumption, which lags them a little, from June to September.
func seasonal(amp float64, moy int) float64 {
	return 1 + amp*math.Cos(2*math.Pi*(float64(moy)-7)/12)
}

type demandStep struct {
	absent, empty, stockout, flood bool
	pop, adm, consumption          float64
	delay                          int
}

// step advances a district by one month. It makes the same draws in the same
// order whatever happens, so that the stream stays aligned.
func (d *districtGen) step(cfg DemandConfig, m float64, t, moy int) demandStep {
	r := d.rng
	e := regionEffects[d.reg]
	var s demandStep
	s.pop = d.pop0 * math.Exp(d.growth*float64(t)/12)
	rainy := moy >= 7 && moy <= 9
	pFlood := e.flood
	if !rainy {
		pFlood *= 0.1
	}
	uFlood, uConflict, f1, f2 := r.Float64(), r.Float64(), r.Float64(), r.Float64()
	shifted := d.shifted && m >= d.shiftAt
	s.flood = uFlood < pFlood || (d.shifted && m == d.shiftAt)
	// Displacement: last month's displaced people drive this month's demand
	// (a one-month lag); they return home at 15% a month.
	prevDisplaced := d.displaced
	d.displaced *= 0.85
	if s.flood {
		d.floodAge = 0
		d.displaced += s.pop * (0.01 + 0.05*f1)
	} else if d.floodAge >= 0 {
		d.floodAge++
	}
	if uConflict < e.conflict {
		d.displaced += s.pop * (0.02 + 0.10*f2)
	}
	season := seasonal(d.amp, moy)
	lambda := s.pop * d.rate * season * math.Pow(1.05, float64(t)/12)
	if d.floodAge >= 0 && d.floodAge < len(floodEffect) {
		lambda *= floodEffect[d.floodAge]
	}
	lambda += prevDisplaced * d.rate * 2.5 * season
	if shifted {
		lambda *= d.shiftFactor
	}
	lambda *= math.Exp(0.1 * r.NormFloat64())
	s.adm = poisson(r, lambda)
	demand := cartonsPerChild * (0.65*s.adm + 0.35*d.prevAdm) * math.Exp(0.06*r.NormFloat64())
	d.prevAdm = s.adm

	pStock := 0.03
	if demand > 1.35*d.ewma { // a surge the supply plan did not foresee
		pStock += 0.15
	}
	if d.stockout {
		pStock = max(pStock, 0.4)
	}
	uStock, cut := r.Float64(), r.Float64()
	s.stockout = uStock < pStock
	consumption := demand
	if s.stockout {
		consumption *= 0.35 + 0.5*cut
	}
	d.stockout = s.stockout
	d.ewma = 0.7*d.ewma + 0.3*demand
	s.consumption = math.Round(consumption*10) / 10

	uMiss, uEmpty, uLate, late, delay := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.NormFloat64()
	pMiss := cfg.MissingRate
	if s.flood {
		pMiss *= 3
	}
	s.absent = uMiss < pMiss
	s.empty = uEmpty < cfg.EmptyRate
	s.delay = int(clamp(math.Round(math.Exp(math.Log(d.delayMed)+0.45*delay)), 1, 40))
	if uLate < cfg.LateRate {
		s.delay = 46 + int(late*90)
	}
	return s
}

// poisson draws a Poisson count: exactly for small means, by the normal
// approximation for large ones.
func poisson(r *rand.Rand, lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if lambda < 30 {
		l, k, p := math.Exp(-lambda), 0.0, r.Float64()
		for p > l {
			k++
			p *= r.Float64()
		}
		return k
	}
	return max(0, math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64()))
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

// dateCache formats dates once each.
type dateCache map[float64]string

func (c dateCache) get(v float64) string {
	s, ok := c[v]
	if !ok {
		s = dataset.FormatDate(v)
		c[v] = s
	}
	return s
}

func corruptDemand(d Defect, row []any, rng *rand.Rand) bool {
	switch d {
	case ConflictingDuplicate:
		row[5] = math.Round((row[5].(float64)*1.2+1)*10) / 10
	case FutureTime:
		m, _ := dataset.ParseMonth(row[2].(string))
		row[2] = dataset.FormatMonth(m + futureOffsetMons)
		if s, ok := row[9].(string); ok {
			v, _ := dataset.ParseDate(s)
			row[9] = dataset.FormatDate(v + 3652)
		}
	case Negative:
		row[5] = -math.Round((row[5].(float64)+1)*10) / 10
	case Impossible:
		row[3] = int64(1_000_000_000)
	case UnknownLevel:
		row[1] = pick(rng, []string{"Atlantis", "north", "Nrth", "Centre"})
	case Inconsistent:
		adm := row[4].(int64)
		if adm < 1 {
			return false
		}
		row[3] = int64(float64(adm) * rng.Float64())
	case MissingRequired:
		row[3] = nil
	case BadType:
		row[4] = pick(rng, []string{"1O4", "twelve", "12 children", "n.d."})
	default:
		return false
	}
	return true
}
