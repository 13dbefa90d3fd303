package training

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/eval"
	"github.com/lantern-mlops/lantern/training/export"
	"github.com/lantern-mlops/lantern/training/features"
	"github.com/lantern-mlops/lantern/training/linear"
	"github.com/lantern-mlops/lantern/training/mlp"
	"github.com/lantern-mlops/lantern/training/profile"
	"github.com/lantern-mlops/lantern/training/synth"
)

func runMalnutrition(ctx context.Context, cfg *Config) (*Result, error) {
	frame, res, err := load(ctx, cfg, synth.MalnutritionSchema())
	if err != nil {
		return res, err
	}
	feats, err := features.BuildMalnutrition(frame)
	if err != nil {
		return res, err
	}
	if feats.Dropped > 0 {
		cfg.Progress("features", fmt.Sprintf("%d visits without a measurement or status left out (classifiers need every measurement)", feats.Dropped))
	}
	train, valid, test, split := splitByDate(feats.VisitDate)
	cfg.Progress("split", fmt.Sprintf("%d train, %d validation, %d test visits (time-based: the latest 20%% test, the 10%% before validate)", len(train), len(valid), len(test)))
	if len(test) == 0 || len(valid) == 0 {
		return res, fmt.Errorf("too few visits to train (%d)", len(feats.Y))
	}
	classes := features.Classes
	trainer := cfg.Trainer
	if trainer == "" {
		trainer = "mlp"
	}
	var (
		onnx   []byte
		pred   []int
		probs  []float64
		params = map[string]string{}
	)
	switch trainer {
	case "mlp":
		p := mlp.DefaultParams()
		p.Seed, p.Balanced = cfg.Seed, true
		p.Progress = func(epoch, epochs int, loss float64) {
			if epoch%10 == 0 {
				cfg.Progress("train", fmt.Sprintf("mlp epoch %d/%d, validation loss %.4f", epoch, epochs, loss))
			}
		}
		m, err := mlp.Train(ctx, feats.X, feats.Y, classes, train, valid, p)
		if err != nil {
			return res, fmt.Errorf("train: %w", err)
		}
		cfg.Progress("train", fmt.Sprintf("mlp: best epoch %d of %d", m.BestEpoch, m.Epochs))
		pred, probs = m.Predict(feats.X)
		onnx, err = export.MLP(m, export.Options{Family: FamilyMalnutrition, Metadata: features.MalnutritionMetadata()})
		if err != nil {
			return res, err
		}
		params["hidden"] = fmt.Sprint(p.Hidden)
		params["best_epoch"] = strconv.Itoa(m.BestEpoch)
	case "logistic":
		p := linear.DefaultParams()
		p.Balanced = true
		m, err := linear.Train(ctx, feats.X, feats.Y, classes, slices.Concat(train, valid), p)
		if err != nil {
			return res, fmt.Errorf("train: %w", err)
		}
		pred, probs = m.Predict(feats.X)
		onnx, err = export.Logistic(m, export.Options{Family: FamilyMalnutrition, Metadata: features.MalnutritionMetadata()})
		if err != nil {
			return res, err
		}
		params["l2"] = fmt.Sprint(p.L2)
	default:
		return res, fmt.Errorf("unknown trainer %q for %s: use mlp or logistic", trainer, cfg.Family)
	}
	params["trainer"] = trainer
	params["class_weights"] = "balanced"
	params["seed"] = strconv.FormatUint(cfg.Seed, 10)
	params["rows_train"], params["rows_valid"], params["rows_test"] = strconv.Itoa(len(train)), strconv.Itoa(len(valid)), strconv.Itoa(len(test))

	k := len(classes)
	proba := make([][]float64, len(pred))
	for i := range proba {
		proba[i] = probs[i*k : (i+1)*k]
	}
	res.Metrics, err = eval.EvaluateClassifier(eval.ClassificationData{
		Classes: classes, Actual: feats.Y, Pred: pred, Proba: proba, Split: split,
	}, eval.ClassificationOptions{})
	if err != nil {
		return res, fmt.Errorf("evaluate: %w", err)
	}
	res.Summary = classSummary(res.Metrics)
	cfg.Progress("evaluate", res.Summary)
	if err := checkParity(ctx, onnx, feats.X, test, nil, probs); err != nil {
		return res, err
	}
	res.Files["model.onnx"] = onnx
	prof, err := classProfile(feats, frame, train, pred, proba, cfg.Seed)
	if err != nil {
		return res, err
	}
	res.Files["profile.json"] = prof
	res.Files["MLmodel"] = mlmodel(feats.X.Names, []tensorSpec{{"label", "str", []int{-1}}, {"probabilities", "float32", []int{-1, k}}})
	lineage := registry.Lineage{DatasetURI: cfg.Data, DatasetDigest: "sha256:" + res.Quality.SHA256, Parameters: params}
	return finish(ctx, cfg, res, lineage, trainer)
}

// splitByDate orders samples by visit date: the latest 20% test, the 10%
// before them validate.
func splitByDate(date []int) (train, valid, test []int, split []string) {
	idx := make([]int, len(date))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return date[a] - date[b] })
	n := len(idx)
	split = make([]string, n)
	for k, i := range idx {
		switch {
		case k >= n*8/10:
			test, split[i] = append(test, i), "test"
		case k >= n*7/10:
			valid, split[i] = append(valid, i), "valid"
		default:
			train, split[i] = append(train, i), "train"
		}
	}
	return train, valid, test, split
}

func classSummary(r *eval.Report) string {
	m := r.Metrics()
	return fmt.Sprintf("test accuracy %.3f, macro-F1 %.3f, SAM recall %.3f, MAM recall %.3f, Brier %.3f",
		m["accuracy"], m["macro_f1"], m["sam_recall"], m["mam_recall"], m["brier"])
}

func classProfile(f *features.Malnutrition, frame *dataset.Frame, train, pred []int, proba [][]float64, seed uint64) ([]byte, error) {
	b, err := profile.NewBuilder(profile.Spec{
		Numeric: f.X.Names, Time: "visit_date", TimeType: dataset.Date,
		Target: "status", Task: profile.Classification, Classes: features.Classes,
	}, &profile.Options{Seed: seed})
	if err != nil {
		return nil, err
	}
	for lo := 0; lo < len(train); lo += profileChunk {
		rows := train[lo:min(lo+profileChunk, len(train))]
		date := &dataset.Column{Name: "visit_date", Type: dataset.Date}
		status := &dataset.Column{Name: "status", Type: dataset.String}
		var cls []int
		var pr [][]float64
		for _, i := range rows {
			date.Num = append(date.Num, float64(f.VisitDate[i]))
			status.AppendString(features.Classes[f.Y[i]], false)
			cls = append(cls, pred[i])
			pr = append(pr, proba[i])
		}
		sub := &dataset.Frame{Schema: frame.Schema, Columns: []*dataset.Column{date, status}}
		if err := b.AddBatch(profile.Batch{X: f.X.Subset(rows), Frame: sub, Class: cls, Proba: pr}); err != nil {
			return nil, err
		}
	}
	return jsonBytes(b.Profile())
}
