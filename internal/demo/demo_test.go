package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the README's main job and checks what it tells a newcomer.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := Run(ctx, Options{Out: &out, DataDir: t.TempDir()}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	t.Logf("demo took %s", time.Since(start))
	for _, want := range []string{
		"demand-forecast v1", "lower error", "gates", "malnutrition-risk v1", "SAM recall",
		"loaded on the native engine",
		"REST  demand-forecast v1:", "forecast",
		"gRPC  malnutrition-risk v1: girl, 18 months, MUAC 108 mm → sam",
		"MLflow REST: demand-forecast@production → version 1",
		"alias.set       malnutrition-risk production→v1",
		"grpcurl -plaintext",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoRefusesNonLoopback(t *testing.T) {
	err := Run(context.Background(), Options{HTTPAddr: "0.0.0.0:0", Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("got %v", err)
	}
}
