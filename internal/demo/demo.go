// Package demo runs Lantern end to end on one machine, on loopback, and
// explains what it did: the README's main job (`lantern demo`).
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/platform"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry/client"
	"github.com/lantern-mlops/lantern/serving"
)

// Options configure a demo run.
type Options struct {
	// DataDir keeps the demo's data; empty means a temporary directory removed at the end.
	DataDir string
	// HTTPAddr and GRPCAddr are where the platform listens (default: free loopback ports).
	HTTPAddr string
	GRPCAddr string
	// Keep leaves the platform running until ctx ends.
	Keep bool
	// Out receives the summary for people.
	Out io.Writer
	// Logger receives the platform's logs.
	Logger *slog.Logger
	// Seed makes the synthetic data and training reproducible.
	Seed uint64
}

// run is one demo: the platform, its client, and the summary printer.
type run struct {
	o     Options
	p     *platform.Platform
	c     *client.Client
	w     *printer
	dir   string
	http  string
	grpc  string
	start time.Time
}

// Run starts the platform, exercises it and prints what happened.
func Run(ctx context.Context, o Options) (err error) {
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.GRPCAddr == "" {
		o.GRPCAddr = "127.0.0.1:0"
	}
	if o.Seed == 0 {
		o.Seed = 7
	}
	for _, addr := range []string{o.HTTPAddr, o.GRPCAddr} {
		if host, _, _ := strings.Cut(addr, ":"); !platform.IsLoopback(host) {
			return fmt.Errorf("the demo runs without authentication, so it only listens on loopback; %s is not", addr)
		}
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
	r := &run{o: o, w: &printer{out: o.Out}, dir: dir, start: time.Now()}
	r.p, err = platform.Start(pctx, platform.Config{
		Store: st, StoreDesc: "directory " + dir, Auth: authn, HTTPAddr: o.HTTPAddr,
		DrainTimeout: 5 * time.Second, Logger: o.Logger,
		Serving: &platform.ServingConfig{
			Manager:  serving.Options{Alias: "production", CacheDir: filepath.Join(dir, "cache", "models")},
			GRPCAddr: o.GRPCAddr,
		},
	})
	if err != nil {
		return err
	}
	r.http, r.grpc = r.p.HTTPAddr, r.p.GRPCAddr
	if r.c, err = client.New("http://"+r.http, ""); err != nil {
		return err
	}
	r.w.title("Lantern demo")
	r.w.line("Platform up: registry and serving at http://%s (HTTP) and %s (gRPC); data in %s", r.http, r.grpc, dir)

	steps := []func(context.Context) error{r.generate, r.train, r.serve, r.predict, r.registryView}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	r.tryIt()
	r.w.line("")
	r.w.line("Done in %s.", time.Since(r.start).Round(100*time.Millisecond))
	if o.Keep {
		r.w.line("The platform keeps running (--keep); press Ctrl-C to stop it.")
		<-ctx.Done()
	}
	stop()
	return r.p.Wait()
}

func (r *run) tryIt() {
	r.w.title("Try it yourself")
	r.w.line("curl -s http://%s/v2/models/demand-forecast | jq .", r.http)
	r.w.line("curl -s -X POST http://%s/v2/models/malnutrition-risk/infer -d '%s'", r.http, exampleChildJSON())
	r.w.line("grpcurl -plaintext -d '%s' %s inference.GRPCInferenceService/ModelInfer", exampleChildGRPC(), r.grpc)
	r.w.line("lantern models versions demand-forecast --registry http://%s", r.http)
	r.w.line("lantern audit --registry http://%s", r.http)
	if !r.o.Keep {
		r.w.line("(add --keep to leave the platform running and try these)")
	}
}

// printer writes the summary.
type printer struct{ out io.Writer }

func (p *printer) title(s string) { fmt.Fprintf(p.out, "\n== %s\n", s) }
func (p *printer) line(f string, a ...any) {
	fmt.Fprintf(p.out, "   "+f+"\n", a...)
}
