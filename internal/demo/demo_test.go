package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, Options{Out: &out, DataDir: t.TempDir()}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"rutf-demand v1: READY",
		"rutf-demand v2: READY",
		"alias production moved v1 → v2",
		"MLflow sees rutf-demand with alias production → version 2",
		"alias.set       rutf-demand production→v2 (WAPE 0.17 beats 0.21)",
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
