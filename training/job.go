package training

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/client"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/eval"
)

// Families of models Lantern trains.
const (
	// FamilyDemand forecasts a district's monthly consumption of a supply.
	FamilyDemand = "demand-forecast"
	// FamilyMalnutrition classifies a child's acute-malnutrition status.
	FamilyMalnutrition = "malnutrition-risk"
)

// ErrGate is wrapped by Run's error when the model fails a quality gate.
var ErrGate = errors.New("quality gate failed")

// ErrDataQuality is wrapped by Run's error when the data has too many defects.
var ErrDataQuality = data.ErrQuality

// Config describes one training job.
type Config struct {
	// Family is FamilyDemand or FamilyMalnutrition.
	Family string
	// Name is the registered model's name (default: the family).
	Name string
	// Data is the dataset: a local path or s3://bucket/key, CSV or Parquet.
	Data string
	// DataOptions configure loading (S3 credentials, timeliness date).
	DataOptions data.Options
	// Quality bounds the data defects accepted (default data.DefaultThresholds).
	Quality *data.Thresholds
	// Trainer picks the classifier: "mlp" (default) or "logistic". Demand uses "gbrt".
	Trainer string
	// Seed makes the job deterministic.
	Seed uint64
	// TestMonths is how many of the latest months of demand data are held
	// out for testing (default 6); the same many before them validate
	// (early stopping). For classification the latest 20% of visits test
	// and the 10% before them validate.
	TestMonths int
	// Gates are the quality gates (default eval.DefaultGates).
	Gates *eval.Gates
	// RecordFailure registers a version that fails a gate as
	// FAILED_REGISTRATION with its reports (and no alias), instead of
	// registering nothing. Either way Run returns an error wrapping ErrGate.
	RecordFailure bool
	// Aliases point at the new version when it passes the gates.
	Aliases []string
	// Registry is where the version is registered; nil trains and
	// evaluates without registering (a dry run).
	Registry *client.Client
	// Parent is "name/version" of the version this one retrains (lineage).
	Parent string
	// Description and Tags are set on the version.
	Description string
	Tags        map[string]string
	// Logger receives progress; Progress, if set, gets one line per stage.
	Logger   *slog.Logger
	Progress func(stage, detail string)
}

// Result is what a job produced.
type Result struct {
	// Version is the registered version (nil in a dry run or when nothing was registered).
	Version *registry.Version
	// Metrics is the evaluation report; Quality the data-quality report.
	Metrics *eval.Report
	Quality *data.Report
	// Failures are the gates the model failed.
	Failures []eval.Failure
	// Files are the artifacts the version has (or would have).
	Files map[string][]byte
	// Rows is the number of rows loaded; Duration the job's time.
	Rows     int
	Duration time.Duration
	// Summary is the headline in words ("WAPE 0.142 vs 0.201 for the seasonal-naive baseline").
	Summary string
}

// Run executes the job. It returns an error wrapping ErrDataQuality or
// ErrGate when the data or the model is not good enough; the Result is
// filled as far as the job got.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	if cfg.Name == "" {
		cfg.Name = cfg.Family
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string, string) {}
	}
	if cfg.Gates == nil {
		g := eval.DefaultGates()
		cfg.Gates = &g
	}
	if cfg.Quality == nil {
		q := data.DefaultThresholds()
		cfg.Quality = &q
	}
	if cfg.TestMonths <= 0 {
		cfg.TestMonths = 6
	}
	if cfg.Name != cfg.Family {
		if err := registry.ValidateModelName(cfg.Name); err != nil {
			return nil, err
		}
	}
	var (
		res *Result
		err error
	)
	switch cfg.Family {
	case FamilyDemand:
		res, err = runDemand(ctx, &cfg)
	case FamilyMalnutrition:
		res, err = runMalnutrition(ctx, &cfg)
	default:
		return nil, fmt.Errorf("unknown model family %q: use %s or %s", cfg.Family, FamilyDemand, FamilyMalnutrition)
	}
	if res != nil {
		res.Duration = time.Since(start)
	}
	return res, err
}

// finish applies the gates and registers the version.
func finish(ctx context.Context, cfg *Config, res *Result, lineage registry.Lineage, trainer string) (*Result, error) {
	res.Failures = res.Metrics.Gate(*cfg.Gates)
	report, err := jsonBytes(res.Metrics)
	if err != nil {
		return res, err
	}
	res.Files["metrics.json"] = report
	quality, err := jsonBytes(res.Quality)
	if err != nil {
		return res, err
	}
	res.Files["data_quality.json"] = quality
	lineage.Metrics = map[string]float64{}
	for k, v := range res.Metrics.Metrics() {
		lineage.Metrics[k] = v
	}
	lineage.CodeVersion = buildinfo.String()
	lineage.Parent = cfg.Parent
	var gateErr error
	status, message := registry.StatusReady, ""
	if len(res.Failures) > 0 {
		msg := ""
		for i, f := range res.Failures {
			if i > 0 {
				msg += "; "
			}
			msg += f.Message
		}
		gateErr = fmt.Errorf("%w: %s", ErrGate, msg)
		status, message = registry.StatusFailed, msg
		cfg.Progress("gates", "FAILED: "+msg)
	} else {
		cfg.Progress("gates", "passed")
	}
	if cfg.Registry == nil || (gateErr != nil && !cfg.RecordFailure) {
		return res, gateErr
	}
	tags := map[string]string{"family": cfg.Family, "trainer": trainer}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	req := client.RegisterRequest{
		Name: cfg.Name, CreateModel: true, Description: cfg.Description, Tags: tags,
		Lineage: lineage, Status: status, StatusMessage: message, ModelFile: "model.onnx",
		Source: "lantern train",
	}
	if gateErr == nil {
		req.Aliases = cfg.Aliases
	}
	for _, name := range sortedKeys(res.Files) {
		req.Files = append(req.Files, client.File{Path: name, Open: opener(res.Files[name]), Size: int64(len(res.Files[name]))})
	}
	cfg.Progress("register", fmt.Sprintf("%s: %d files", cfg.Name, len(req.Files)))
	v, err := cfg.Registry.Register(ctx, req)
	if err != nil {
		return res, fmt.Errorf("register %s: %w", cfg.Name, err)
	}
	res.Version = v
	cfg.Progress("register", fmt.Sprintf("%s version %d (%s)", cfg.Name, v.Version, v.Status))
	return res, gateErr
}
