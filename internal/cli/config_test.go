package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

func parse(t *testing.T, args ...string) (*CLI, error) {
	t.Helper()
	var c CLI
	p, err := kong.New(&c, kong.Configuration(yamlResolver), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse(args)
	return &c, err
}

// TestConfigPrecedence: default < config file < environment < flag.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lantern.yaml")
	os.WriteFile(cfg, []byte("data-dir: /from/file\nhttp_addr: 127.0.0.1:9000\ns3-bucket: file-bucket\nmodel: [a@production, b@canary]\n"), 0o600)

	c, err := parse(t, "up", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Up.DataDir != "/from/file" || c.Up.HTTPAddr != "127.0.0.1:9000" || c.Up.S3Bucket != "file-bucket" || len(c.Up.Model) != 2 {
		t.Fatalf("file values not used: %+v", c.Up)
	}
	if c.Up.GRPCAddr != "127.0.0.1:8081" {
		t.Fatalf("default lost: %q", c.Up.GRPCAddr)
	}
	t.Setenv("LANTERN_HTTP_ADDR", "127.0.0.1:9100")
	c, _ = parse(t, "up", "--config", cfg)
	if c.Up.HTTPAddr != "127.0.0.1:9100" {
		t.Fatalf("environment did not beat the file: %q", c.Up.HTTPAddr)
	}
	c, _ = parse(t, "up", "--config", cfg, "--http-addr", "127.0.0.1:9200")
	if c.Up.HTTPAddr != "127.0.0.1:9200" {
		t.Fatalf("flag did not beat the environment: %q", c.Up.HTTPAddr)
	}
}

func TestConfigUnknownKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lantern.yaml")
	os.WriteFile(cfg, []byte("data-dir: x\nhttp-adress: typo\n"), 0o600)
	_, err := parse(t, "up", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "http-adress") {
		t.Fatalf("typo in the config file accepted: %v", err)
	}
}

// TestSecretsNotInHelp: --help never shows a secret's value.
func TestSecretsNotInHelp(t *testing.T) {
	t.Setenv("LANTERN_S3_SECRET_KEY", "very-secret-value")
	var out, errb strings.Builder
	Run(t.Context(), []string{"up", "--help"}, &out, &errb)
	if strings.Contains(out.String()+errb.String(), "very-secret-value") {
		t.Fatal("help shows the secret")
	}
	if !strings.Contains(out.String(), "--s3-secret-key") || !strings.Contains(out.String(), "--ort-lib") {
		t.Fatalf("help lacks flags:\n%s", out.String())
	}
}
