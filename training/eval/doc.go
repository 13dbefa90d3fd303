// Package eval scores a trained model on held-out data, compares it with a
// baseline, and decides whether it may be registered: the metrics, the
// seasonal-naive baseline, the promotion gates and the report a training
// job stores as metrics.json.
//
// Demand forecasts (a number per district and month) are scored with
// EvaluateDemand: WAPE, MAPE, RMSE, MAE and bias for the model and for the
// seasonal-naive baseline (the same district's value twelve months earlier,
// see SeasonalNaive), per split, overall, and for the districts that
// contribute most to the error. Malnutrition-risk classifiers are scored
// with EvaluateClassifier: accuracy, macro-F1, per-class precision, recall
// and F1, the multi-class Brier score, log loss and the confusion matrix.
//
// Conventions, the same everywhere: ratios are fractions (0.23, not 23%);
// a metric that is undefined on the data (WAPE when every actual is 0,
// recall of a class with no cases) is NaN in Go and null in JSON, never a
// made-up 0; rows with no actual value are skipped and counted.
//
// Check compares a Report with Gates (thresholds with documented defaults,
// loadable from YAML or JSON) and explains each failure in words, for
// example "SAM recall 0.62 is below the gate 0.80 by 0.18". Report.Metrics
// flattens a report into the map[string]float64 a registry version keeps
// in its lineage ("wape", "baseline_wape", "sam_recall", "macro_f1", ...).
package eval
