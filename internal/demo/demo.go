// Package demo runs Lantern end to end on one machine, on loopback, and
// explains what it did: the README's main job (`lantern demo`).
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/internal/platform"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/client"
)

// Options configure a demo run.
type Options struct {
	// DataDir keeps the demo's data; empty means a temporary directory removed at the end.
	DataDir string
	// HTTPAddr is where the platform listens (default: a free loopback port).
	HTTPAddr string
	// Keep leaves the platform running until ctx ends.
	Keep bool
	// Out receives the summary for people.
	Out io.Writer
	// Logger receives the platform's logs.
	Logger *slog.Logger
}

// Run starts the platform, exercises it and prints what happened.
func Run(ctx context.Context, o Options) (err error) {
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if host, _, _ := strings.Cut(o.HTTPAddr, ":"); !platform.IsLoopback(host) {
		return fmt.Errorf("the demo runs without authentication, so it only listens on loopback; %s is not", o.HTTPAddr)
	}
	dir := o.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lantern-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	st, err := fsstore.New(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	defer st.Close()
	authn, err := auth.New(auth.Config{Insecure: true}, nil)
	if err != nil {
		return err
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	p, err := platform.Start(pctx, platform.Config{
		Store: st, StoreDesc: "directory " + dir, Auth: authn, HTTPAddr: o.HTTPAddr,
		DrainTimeout: 5 * time.Second, Logger: o.Logger,
	})
	if err != nil {
		return err
	}
	base := "http://" + p.HTTPAddr
	w := &printer{out: o.Out}
	w.title("Lantern demo")
	w.line("Platform up at %s (registry with MLflow and native APIs), data in %s", base, dir)

	c, err := client.New(base, "")
	if err != nil {
		return err
	}
	if err := registerModels(ctx, c, w); err != nil {
		return err
	}
	if err := mlflowView(ctx, base, w); err != nil {
		return err
	}
	if err := auditTrail(ctx, c, w); err != nil {
		return err
	}

	w.title("Try it yourself")
	w.line("curl -s %s/api/v1/models | jq .", base)
	w.line("curl -s '%s/api/2.0/mlflow/registered-models/get?name=rutf-demand' | jq .", base)
	w.line("lantern models versions rutf-demand --registry %s", base)
	w.line("lantern audit --registry %s", base)
	w.line("")
	w.line("Done in %s.", time.Since(start).Round(10*time.Millisecond))
	if o.Keep {
		w.line("The platform keeps running (--keep); press Ctrl-C to stop it.")
		<-ctx.Done()
	}
	stop()
	return p.Wait()
}

// demoModel is the demand model the registry part of the demo registers: a
// linear forecast of monthly RUTF cartons from district features.
func demoModel(intercept float32) []byte {
	m := onnxtest.LinearRegressor(
		[]string{"population_k", "admissions_last_month", "lag_1", "lag_12", "lean_season"},
		[]float32{0.8, 1.6, 0.45, 0.3, 25}, intercept)
	return onnxtest.Marshal(m)
}

func registerModels(ctx context.Context, c *client.Client, w *printer) error {
	w.title("1. Register two versions of a demand-forecast model")
	for i, intercept := range []float32{12, 9.5} {
		data := demoModel(intercept)
		v, err := c.Register(ctx, client.RegisterRequest{
			Name:        "rutf-demand",
			CreateModel: true,
			Description: "Monthly RUTF cartons per district",
			Files:       []client.File{{Path: "model.onnx", Open: bytesOpener(data), Size: int64(len(data))}},
			Tags:        map[string]string{"family": "demand-forecast", "supply": "RUTF"},
			Lineage: registry.Lineage{
				DatasetURI: "synthetic://demand?seed=42", CodeVersion: "demo",
				Metrics: map[string]float64{"wape": []float64{0.21, 0.17}[i]},
			},
		})
		if err != nil {
			return fmt.Errorf("register version %d: %w", i+1, err)
		}
		in := v.Signature.Inputs[0]
		w.line("rutf-demand v%d: %s, sha256 %s…, input %s %v, WAPE %.2f", v.Version, v.Status, v.Artifacts[0].SHA256[:12], in.Name, in.Shape, v.Lineage.Metrics["wape"])
	}
	if _, err := c.SetAlias(ctx, "rutf-demand", "production", 1, "first model"); err != nil {
		return err
	}
	if _, err := c.SetAlias(ctx, "rutf-demand", "production", 2, "WAPE 0.17 beats 0.21"); err != nil {
		return err
	}
	v, err := c.VersionByAlias(ctx, "rutf-demand", "production")
	if err != nil {
		return err
	}
	w.line("alias production moved v1 → v%d (reason recorded in the audit log)", v.Version)
	return nil
}

// mlflowView reads the registry the way an MLflow client does.
func mlflowView(ctx context.Context, base string, w *printer) error {
	w.title("2. The same registry through MLflow's REST API")
	u := base + "/api/2.0/mlflow/registered-models/search?" + url.Values{"filter": {"name LIKE 'rutf%'"}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		RegisteredModels []struct {
			Name    string `json:"name"`
			Aliases []struct {
				Alias   string `json:"alias"`
				Version string `json:"version"`
			} `json:"aliases"`
		} `json:"registered_models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("MLflow search: %w", err)
	}
	for _, m := range out.RegisteredModels {
		for _, a := range m.Aliases {
			w.line("MLflow sees %s with alias %s → version %s (mlflow.set_tracking_uri(%q))", m.Name, a.Alias, a.Version, base)
		}
	}
	return nil
}

func auditTrail(ctx context.Context, c *client.Client, w *printer) error {
	w.title("3. Audit log (every write, who, when, why)")
	evs, _, err := c.Audit(ctx, registry.AuditQuery{Model: "rutf-demand", Limit: 10})
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		detail := ""
		if e.Details["alias"] != "" {
			detail = fmt.Sprintf(" %s→v%s", e.Details["alias"], e.Details["version"])
		}
		if e.Reason != "" {
			detail += fmt.Sprintf(" (%s)", e.Reason)
		}
		ver := ""
		if e.Version > 0 {
			ver = fmt.Sprintf(" v%d", e.Version)
		}
		w.line("%s  %-15s %s%s%s", e.Time.Format("15:04:05.000"), e.Action, e.Model, ver, detail)
	}
	return nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }
}

// printer writes the summary.
type printer struct{ out io.Writer }

func (p *printer) title(s string) { fmt.Fprintf(p.out, "\n== %s\n", s) }
func (p *printer) line(f string, a ...any) {
	fmt.Fprintf(p.out, "   "+f+"\n", a...)
}
