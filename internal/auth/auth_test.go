package auth

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	writer, reader := Generate(), Generate()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.yaml")
	content := "tokens:\n  - name: ci\n    role: writer\n    sha256: " + Hash(writer) + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{TokensFile: file, Tokens: "dash:reader:sha256:" + Hash(reader)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("someone:"+writer))
	tests := []struct {
		name   string
		header string
		want   Principal
		err    error
	}{
		{"bearer writer", "Bearer " + writer, Principal{"ci", RoleWriter}, nil},
		{"basic password is the token", basic, Principal{"ci", RoleWriter}, nil},
		{"env reader", "bearer " + reader, Principal{"dash", RoleReader}, nil},
		{"missing", "", Principal{}, ErrUnauthenticated},
		{"unknown", "Bearer lnt_nope", Principal{}, ErrUnauthenticated},
		{"hash is not a token", "Bearer " + Hash(writer), Principal{}, ErrUnauthenticated},
		{"bad scheme", "Token " + writer, Principal{}, ErrUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Authenticate(tc.header)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("Authenticate = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), writer) {
				t.Fatal("error message leaks the token")
			}
		})
	}
}

func TestModes(t *testing.T) {
	a, _ := New(Config{Insecure: true}, nil)
	if p, err := a.Authenticate(""); err != nil || p.Role != RoleAdmin {
		t.Fatalf("insecure: %+v %v", p, err)
	}
	a, _ = New(Config{AnonymousRead: true}, nil)
	p, err := a.Authenticate("")
	if err != nil || p.Role != RoleReader {
		t.Fatalf("anonymous read: %+v %v", p, err)
	}
	if err := Authorize(p, RoleWriter); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("reader writing: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, list := range []string{
		"ci:writer",                    // no hash
		"ci:boss:" + Hash("x"),         // bad role
		"ci:writer:lnt_plaintexttoken", // a token instead of its hash
		":writer:" + Hash("x"),         // no name
	} {
		if _, err := New(Config{Tokens: list}, nil); err == nil {
			t.Errorf("%q accepted", list)
		} else if strings.Contains(err.Error(), "plaintexttoken") {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "t.yaml")
	os.WriteFile(file, []byte("tokens:\n  - name: a\n    role: writer\n    sha: x\n"), 0o600)
	if _, err := New(Config{TokensFile: file}, nil); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.yaml")
	os.WriteFile(file, []byte("tokens: []\n"), 0o600)
	a, err := New(Config{TokensFile: file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := Generate()
	os.WriteFile(file, []byte("tokens:\n  - {name: late, role: admin, sha256: "+Hash(tok)+"}\n"), 0o600)
	// Make sure the mtime differs even on coarse file systems.
	st, _ := os.Stat(file)
	os.Chtimes(file, st.ModTime().Add(2e9), st.ModTime().Add(2e9))
	if err := a.reload(); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Authenticate("Bearer " + tok); err != nil || p.Name != "late" {
		t.Fatalf("after reload: %+v %v", p, err)
	}
}
