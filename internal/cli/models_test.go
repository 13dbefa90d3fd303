package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/lantern-mlops/lantern/internal/cli"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/apitest"
)

// lantern runs the command line and returns its exit code and output.
func lantern(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// remote adds the registry flags for server s and token.
func remote(s *apitest.Server, token string, args ...string) []string {
	return append(args, "--registry", s.URL, "--token", token)
}

func cleanEnv(t *testing.T) {
	for _, k := range []string{"LANTERN_REGISTRY", "LANTERN_TOKEN", "LANTERN_CONFIG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

func TestModelsCommands(t *testing.T) {
	cleanEnv(t)
	s := apitest.Start(t, nil)
	dir := t.TempDir()
	model := filepath.Join(dir, "model.onnx")
	apitest.WriteModel(t, model, 5<<20) // big enough for progress reports
	ref := filepath.Join(dir, "ref.json")
	os.WriteFile(ref, []byte(`{"price": [1, 2]}`), 0o644)

	code, out, errOut := lantern(t, remote(s, s.Writer, "models", "register", "--name", "rutf-demand",
		"--file", model, "--file", "profile/reference.json="+ref,
		"--alias", "production", "--tag", "team=supply", "--metric", "rmse=12.5", "--param", "alpha=0.1",
		"--description", "weekly retrain", "--dataset-uri", "s3://data/rutf/2025-03", "--run-id", "r42")...)
	if code != 0 || !strings.Contains(out, "registered rutf-demand version 1 (READY), aliases: production") || !strings.Contains(out, "profile/reference.json") {
		t.Fatalf("register: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "uploading") || !strings.Contains(errOut, "(100%)") {
		t.Fatalf("no progress lines: %q", errOut)
	}
	code, out, _ = lantern(t, remote(s, s.Writer, "models", "register", "--name", "rutf-demand", "--file", model, "-o", "json")...)
	var v registry.Version
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version != 2 {
		t.Fatalf("register json: %d %s", code, out)
	}

	tests := []struct {
		name string
		args []string
		want []string // in stdout
	}{
		{"list", []string{"models", "list"}, []string{"NAME", "rutf-demand", "production=1"}},
		{"list filtered", []string{"models", "list", "--filter", "name LIKE 'rutf%'"}, []string{"rutf-demand"}},
		{"show", []string{"models", "show", "rutf-demand"}, []string{"model:", "rutf-demand", "VERSION", "READY", "production"}},
		{"show version", []string{"models", "show", "rutf-demand@production"}, []string{"version:", "1 (READY)", "inputs:", "s3://data/rutf/2025-03", "rmse=12.5", "alpha=0.1", "profile/reference.json"}},
		{"versions", []string{"models", "versions", "rutf-demand"}, []string{"VERSION", "2", "1", "production", "r42"}},
		{"alias set", []string{"models", "alias", "set", "rutf-demand", "candidate", "v2", "--reason", "shadow test"}, []string{"rutf-demand@candidate -> version 2"}},
		{"alias rm", []string{"models", "alias", "rm", "rutf-demand", "candidate"}, []string{"removed rutf-demand@candidate"}},
		{"audit", []string{"audit", "--model", "rutf-demand", "--action", "alias", "--since", "1h"}, []string{"ACTION", "alias.set", "alias.delete", "shadow test", "writer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := lantern(t, remote(s, s.Writer, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			// The same command for scripts.
			code, out, errOut = lantern(t, remote(s, s.Writer, append(tc.args, "-o", "json")...)...)
			if code != 0 || !json.Valid([]byte(out)) {
				t.Fatalf("-o json: exit %d: %s %s", code, out, errOut)
			}
		})
	}

	t.Run("download", func(t *testing.T) {
		dest := t.TempDir()
		code, out, errOut := lantern(t, remote(s, s.Reader, "models", "download", "rutf-demand@production", "-O", dest)...)
		if code != 0 || !strings.Contains(out, "downloaded rutf-demand version 1 model.onnx") || !strings.Contains(out, "verified") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		got, _ := os.ReadFile(filepath.Join(dest, "model.onnx"))
		if want, _ := os.ReadFile(model); !bytes.Equal(got, want) {
			t.Fatal("downloaded file differs")
		}
		code, out, _ = lantern(t, remote(s, s.Reader, "models", "download", "rutf-demand", "--file", "model.onnx", "-O", filepath.Join(dest, "latest.onnx"), "-o", "json")...)
		var res map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res["version"] != float64(2) {
			t.Fatalf("download json: %d %s", code, out)
		}
	})

	t.Run("delete", func(t *testing.T) {
		code, _, errOut := lantern(t, remote(s, s.Writer, "models", "delete", "rutf-demand", "--version", "2")...)
		if code != 1 || !strings.Contains(errOut, "pass --yes") {
			t.Fatalf("without --yes: %d %s", code, errOut)
		}
		code, out, errOut := lantern(t, remote(s, s.Writer, "models", "delete", "rutf-demand", "--version", "2", "--yes")...)
		if code != 0 || !strings.Contains(out, "deleted version 2 of rutf-demand") {
			t.Fatalf("delete version: %d %s %s", code, out, errOut)
		}
		code, _, errOut = lantern(t, remote(s, s.Writer, "models", "delete", "rutf-demand", "--yes")...)
		if code != 1 || !strings.Contains(errOut, "ask an administrator for a token with that role") {
			t.Fatalf("writer deletes a model: %d %s", code, errOut)
		}
		code, out, _ = lantern(t, remote(s, s.Admin, "models", "delete", "rutf-demand", "--yes", "-o", "json")...)
		if code != 0 || !json.Valid([]byte(out)) {
			t.Fatalf("admin deletes: %d %s", code, out)
		}
	})
}

func TestModelsErrors(t *testing.T) {
	cleanEnv(t)
	s := apitest.Start(t, nil)
	model := filepath.Join(t.TempDir(), "model.onnx")
	os.WriteFile(model, apitest.Model(t), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no token", []string{"models", "list", "--registry", s.URL}, 1, "the registry needs a token: pass --token or set LANTERN_TOKEN"},
		{"bad token", remote(s, "lnt_wrong", "models", "list"), 1, "the registry refused the token"},
		{"nobody there", []string{"models", "list", "--registry", "http://127.0.0.1:1", "--token", "x"}, 1, "cannot reach the registry at http://127.0.0.1:1: is `lantern up` running?"},
		{"bad address", []string{"models", "list", "--registry", "localhost:8080"}, 1, "must be an http:// or https:// URL"},
		{"unknown model", remote(s, s.Reader, "models", "show", "nope"), 1, `registered model "nope" does not exist`},
		{"unknown version", remote(s, s.Reader, "models", "download", "nope@3"), 1, "does not exist"},
		{"missing file", remote(s, s.Writer, "models", "register", "--name", "m", "--file", "/nonexistent.onnx"), 1, "--file /nonexistent.onnx: no such file"},
		{"not ONNX", remote(s, s.Writer, "models", "register", "--name", "m", "--file", os.Args[0]), 1, "no ONNX model"},
		{"reader registers", remote(s, s.Reader, "models", "register", "--name", "m", "--file", model), 1, "ask an administrator"},
		{"no create", remote(s, s.Writer, "models", "register", "--name", "m2", "--file", model, "--no-create"), 1, `registered model "m2" does not exist`},
		{"bad metric", remote(s, s.Writer, "models", "register", "--name", "m", "--file", model, "--metric", "rmse=low"), 2, "--metric"},
		{"bad alias version", remote(s, s.Writer, "models", "alias", "set", "m", "prod", "three"), 1, "version must be a number"},
		{"bad since", remote(s, s.Reader, "audit", "--since", "last tuesday"), 1, "--since \"last tuesday\""},
		{"missing argument", remote(s, s.Reader, "models", "show"), 2, "expected"},
		{"bad output", remote(s, s.Reader, "models", "list", "-o", "yaml"), 2, `"table","json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := lantern(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tc.code, tc.want)
			}
			if n := strings.Count(errOut, "lantern: "); n != 1 || !strings.HasSuffix(errOut, "\n") {
				t.Fatalf("want one error line:\n%s", errOut)
			}
		})
	}
}

// TestFlagsHaveHelp: every flag and argument of the registry commands says what it is for.
func TestFlagsHaveHelp(t *testing.T) {
	var c cli.CLI
	k, err := kong.New(&c, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range k.Model.Children {
		if node.Name != "models" && node.Name != "audit" {
			continue
		}
		_ = kong.Visit(node, func(n kong.Visitable, next kong.Next) error {
			switch x := n.(type) {
			case *kong.Flag:
				if x.Help == "" && x.Name != "help" {
					t.Errorf("flag --%s has no help", x.Name)
				}
			case *kong.Node:
				if x.Help == "" {
					t.Errorf("command %s has no help", x.Path())
				}
				for _, p := range x.Positional {
					if p.Help == "" {
						t.Errorf("argument %s of %s has no help", p.Name, x.Path())
					}
				}
			}
			return next(nil)
		})
	}
}
