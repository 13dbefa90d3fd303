package training

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/eval"
	"github.com/lantern-mlops/lantern/training/export"
	"github.com/lantern-mlops/lantern/training/features"
	"github.com/lantern-mlops/lantern/training/gbrt"
	"github.com/lantern-mlops/lantern/training/profile"
	"github.com/lantern-mlops/lantern/training/synth"
)

func runDemand(ctx context.Context, cfg *Config) (*Result, error) {
	frame, res, err := load(ctx, cfg, synth.DemandSchema())
	if err != nil {
		return res, err
	}
	cfg.Progress("features", "lags 1, 2, 3, 12, rolling means, calendar, district")
	feats, err := features.BuildDemand(frame, features.DemandOptions{})
	if err != nil {
		return res, err
	}
	train, valid, test, split, err := splitDemand(feats, cfg.TestMonths)
	if err != nil {
		return res, err
	}
	cfg.Progress("split", fmt.Sprintf("%d train, %d validation, %d test rows (time-based: last %d months test, %d before validate)",
		len(train), len(valid), len(test), cfg.TestMonths, cfg.TestMonths))

	p := gbrt.DefaultParams()
	p.Seed = cfg.Seed
	p.Progress = func(round, rounds int, loss float64) {
		if round%25 == 0 {
			cfg.Progress("train", fmt.Sprintf("gbrt round %d/%d, validation RMSE %.2f", round, rounds, math.Sqrt(loss)))
		}
	}
	model, err := gbrt.Train(ctx, feats.X, feats.Y, train, valid, p)
	if err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	cfg.Progress("train", fmt.Sprintf("gbrt: %d trees kept of %d (early stopping)", model.BestRound, model.Rounds))
	pred := model.Predict(feats.X)

	labeled := slices.Concat(train, valid, test)
	dd := eval.DemandData{}
	for _, i := range labeled {
		dd.District = append(dd.District, feats.District[i])
		dd.Month = append(dd.Month, feats.Month[i])
		dd.Split = append(dd.Split, split[i])
		dd.Actual = append(dd.Actual, feats.Y[i])
		dd.Pred = append(dd.Pred, pred[i])
	}
	history := &eval.Series{District: feats.District, Month: feats.Month, Value: feats.Y}
	res.Metrics, err = eval.EvaluateDemand(dd, eval.DemandOptions{History: history, WorstDistricts: 5})
	if err != nil {
		return res, fmt.Errorf("evaluate: %w", err)
	}
	res.Summary = demandSummary(res.Metrics)
	cfg.Progress("evaluate", res.Summary)

	onnx, err := export.GBRT(model, export.Options{Family: FamilyDemand, Metadata: feats.Spec.Metadata(),
		Doc: fmt.Sprintf("%s: monthly consumption per district, trained on %s", cfg.Name, cfg.Data)})
	if err != nil {
		return res, err
	}
	if err := checkParity(ctx, onnx, feats.X, test, pred, nil); err != nil {
		return res, err
	}
	res.Files["model.onnx"] = onnx

	prof, err := demandProfile(feats, frame, train, pred, cfg.Seed)
	if err != nil {
		return res, err
	}
	res.Files["profile.json"] = prof
	res.Files["MLmodel"] = mlmodel(feats.X.Names, []tensorSpec{{"prediction", "float32", []int{-1, 1}}})

	params := map[string]string{
		"trainer": "gbrt", "rounds": strconv.Itoa(model.Rounds), "best_round": strconv.Itoa(model.BestRound),
		"learning_rate": fmt.Sprint(p.LearningRate), "max_depth": strconv.Itoa(p.MaxDepth),
		"min_samples_leaf": strconv.Itoa(p.MinSamplesLeaf), "seed": strconv.FormatUint(cfg.Seed, 10),
		"test_months": strconv.Itoa(cfg.TestMonths), "rows_train": strconv.Itoa(len(train)),
		"rows_valid": strconv.Itoa(len(valid)), "rows_test": strconv.Itoa(len(test)),
	}
	lineage := registry.Lineage{DatasetURI: cfg.Data, DatasetDigest: "sha256:" + res.Quality.SHA256, Parameters: params}
	return finish(ctx, cfg, res, lineage, "gbrt")
}

// splitDemand splits the labelled rows by month: the last t months test,
// the t before them validate, the rest train.
func splitDemand(d *features.Demand, t int) (train, valid, test []int, split []string, err error) {
	labeled := d.Labeled()
	var months []int
	for _, i := range labeled {
		months = append(months, d.Month[i])
	}
	slices.Sort(months)
	months = slices.Compact(months)
	if len(months) < 2*t+13 {
		return nil, nil, nil, nil, fmt.Errorf("%w: the data has %d months with reported consumption; training needs at least %d (12 for the yearly lags, %d to validate, %d to test)",
			data.ErrQuality, len(months), 2*t+13, t, t)
	}
	testStart, validStart := months[len(months)-t], months[len(months)-2*t]
	split = make([]string, len(d.Y))
	for _, i := range labeled {
		switch m := d.Month[i]; {
		case m >= testStart:
			test, split[i] = append(test, i), "test"
		case m >= validStart:
			valid, split[i] = append(valid, i), "valid"
		default:
			train, split[i] = append(train, i), "train"
		}
	}
	return train, valid, test, split, nil
}

func demandSummary(r *eval.Report) string {
	for _, s := range r.Regression.Splits {
		if s.Split != r.PrimarySplit {
			continue
		}
		m := s.Model
		if s.ModelOnBaselineRows != nil {
			m = *s.ModelOnBaselineRows
		}
		better := "lower"
		if s.WAPEImprovement < 0 {
			better = "higher"
		}
		return fmt.Sprintf("test WAPE %.3f vs %.3f for the seasonal-naive baseline (%.0f%% %s error), bias %+.3f, RMSE %.1f",
			float64(m.WAPE), float64(s.Baseline.WAPE), 100*math.Abs(float64(s.WAPEImprovement)), better, float64(s.Model.Bias), float64(s.Model.RMSE))
	}
	return ""
}

// profileChunk is how many rows are profiled at a time.
const profileChunk = 1 << 16

// demandProfile profiles the training rows: features, target, predictions,
// and per month of year.
func demandProfile(d *features.Demand, frame *dataset.Frame, train []int, pred []float64, seed uint64) ([]byte, error) {
	b, err := profile.NewBuilder(profile.Spec{
		Numeric: d.X.Names, Time: features.ColMonth, TimeType: dataset.Month,
		Target: features.ColConsumption, Task: profile.Regression,
		Seasonal: []string{features.ConsumptionLag1, features.ConsumptionLag12, features.AdmissionsLag1},
	}, &profile.Options{Seed: seed})
	if err != nil {
		return nil, err
	}
	// Feed the rows in chunks, so the profile never needs a copy of the
	// whole training matrix.
	for lo := 0; lo < len(train); lo += profileChunk {
		rows := train[lo:min(lo+profileChunk, len(train))]
		month := &dataset.Column{Name: features.ColMonth, Type: dataset.Month}
		target := &dataset.Column{Name: features.ColConsumption, Type: dataset.Float}
		var p []float64
		for _, i := range rows {
			month.Num = append(month.Num, float64(d.Month[i]))
			target.Num = append(target.Num, d.Y[i])
			p = append(p, pred[i])
		}
		sub := &dataset.Frame{Schema: frame.Schema, Columns: []*dataset.Column{month, target}}
		if err := b.AddBatch(profile.Batch{X: d.X.Subset(rows), Frame: sub, Pred: p}); err != nil {
			return nil, err
		}
	}
	return jsonBytes(b.Profile())
}
