package cli

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/lantern-mlops/lantern/internal/platform"
	"github.com/lantern-mlops/lantern/serving"
)

// servingFlags configure the serving component (lantern up and lantern serve).
type servingFlags struct {
	GRPCAddr          string            `help:"gRPC listen address: Open Inference Protocol, health, reflection." default:"127.0.0.1:8081" env:"LANTERN_GRPC_ADDR"`
	Model             []string          `help:"Serve this model: NAME@ALIAS, NAME@VERSION or NAME@latest (NAME alone means NAME@production). Repeatable." placeholder:"NAME@REF" env:"LANTERN_MODELS" group:"Serving"`
	Alias             string            `help:"Serve every model that has this alias (models that get it later are picked up)." env:"LANTERN_SERVE_ALIAS" group:"Serving"`
	Engine            string            `help:"Engine: auto (native when it has every operator, else ONNX Runtime), native, or onnxruntime." default:"auto" enum:"auto,native,onnxruntime" env:"LANTERN_ENGINE" group:"Serving"`
	EngineFor         map[string]string `help:"Engine for one model, e.g. --engine-for big-cnn=onnxruntime. Repeatable." placeholder:"MODEL=ENGINE" group:"Serving"`
	ORTLib            string            `name:"ort-lib" help:"ONNX Runtime shared library (libonnxruntime.so.1); 'make onnxruntime' fetches it. Without it, only the native engine runs." type:"path" env:"LANTERN_ORT_LIB" group:"Serving"`
	IntraOpThreads    int               `help:"ONNX Runtime threads inside one operator (0: its default)." env:"LANTERN_INTRA_OP_THREADS" group:"Serving"`
	InterOpThreads    int               `help:"ONNX Runtime threads across operators (0: its default)." env:"LANTERN_INTER_OP_THREADS" group:"Serving"`
	OptimizationLevel string            `help:"ONNX Runtime graph optimisation: disable, basic, extended or all." default:"all" enum:"disable,basic,extended,all" env:"LANTERN_OPTIMIZATION_LEVEL" group:"Serving"`
	BatchMaxSize      int               `help:"Dynamic batching: most rows per engine run (0 or 1: off)." env:"LANTERN_BATCH_MAX_SIZE" group:"Serving"`
	BatchMaxDelay     time.Duration     `help:"Dynamic batching: how long a request waits for others." default:"2ms" env:"LANTERN_BATCH_MAX_DELAY" group:"Serving"`
	RequestTimeout    time.Duration     `help:"Longest time one inference may take." default:"30s" env:"LANTERN_REQUEST_TIMEOUT" group:"Serving"`
	RoutingKeyHeader  string            `help:"Header carrying the sticky routing key (a district id, ...)." default:"X-Lantern-Routing-Key" env:"LANTERN_ROUTING_KEY_HEADER" group:"Serving"`
}

// config turns the flags into the platform's serving configuration.
func (f *servingFlags) config(dataDir string, src serving.Source) (*platform.ServingConfig, error) {
	var targets []serving.Target
	for _, m := range f.Model {
		t, err := serving.ParseTarget(m)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	for model, e := range f.EngineFor {
		if e != "native" && e != "onnxruntime" {
			return nil, fmt.Errorf("--engine-for %s=%s: the engine must be native or onnxruntime", model, e)
		}
	}
	opts := serving.Options{
		Targets: targets, Alias: f.Alias, Engine: f.Engine, EngineFor: f.EngineFor,
		Load:     serving.LoadOptions{IntraOpThreads: f.IntraOpThreads, InterOpThreads: f.InterOpThreads, OptimizationLevel: f.OptimizationLevel},
		CacheDir: filepath.Join(dataDir, "cache", "models"),
	}
	if f.BatchMaxSize > 1 {
		opts.Batching = map[string]serving.BatchOptions{"*": {MaxBatch: f.BatchMaxSize, MaxDelay: f.BatchMaxDelay}}
	}
	return &platform.ServingConfig{
		Source: src, Manager: opts, ORTLib: f.ORTLib, GRPCAddr: f.GRPCAddr,
		RequestTimeout: f.RequestTimeout, RoutingKeyHeader: f.RoutingKeyHeader,
	}, nil
}
