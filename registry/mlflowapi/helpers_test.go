package mlflowapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/miniotest"
	"github.com/lantern-mlops/lantern/objstore"
	"github.com/lantern-mlops/lantern/objstore/fsstore"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/tracking"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

// env is one Lantern "process" serving the MLflow API over real HTTP.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	store  objstore.Store
	reg    *registry.Service
	tr     *tracking.Store
	tokens map[string]string // role name -> token
}

// testTokens are the tokens every env accepts.
var testTokens = func() map[string]string {
	m := map[string]string{}
	for _, role := range []string{"reader", "writer", "admin"} {
		m[role] = auth.Generate()
	}
	return m
}()

func fsStore(t testing.TB, dir string) objstore.Store {
	t.Helper()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newEnv starts an API over st with an authenticator that knows a reader,
// a writer and an admin token.
func newEnv(t *testing.T, st objstore.Store, opts Options) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg, err := registry.New(ctx, st, &registry.Options{PollInterval: 50 * time.Millisecond, ReconcileInterval: time.Hour}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	tr, err := tracking.New(ctx, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for role, tok := range testTokens {
		entries = append(entries, role+"-user:"+role+":"+auth.Hash(tok))
	}
	authn, err := auth.New(auth.Config{Tokens: strings.Join(entries, ",")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(reg, tr, st, opts).Handler(authn, nil, nil))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: st, reg: reg, tr: tr, tokens: testTokens}
}

// do sends one request with the role's token ("" for none) and returns the
// status and body.
func (e *env) do(role, method, path string, body io.Reader, contentType string) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok, ok := e.tokens[role]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if role != "" {
		req.Header.Set("Authorization", "Bearer "+role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

// call sends a JSON request as the admin and decodes a 200 answer.
func (e *env) call(method, path string, body any, out any) {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	if body != nil {
		b, _ := json.Marshal(body)
		rd, ct = bytes.NewReader(b), "application/json"
	}
	status, b, _ := e.do("admin", method, path, rd, ct)
	if status != http.StatusOK {
		e.t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// A transcript is a recorded sequence of requests an MLflow client sends,
// with the answers expected. See testdata/README.md for the format.
type transcript struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	DefaultToken string `json:"default_token"`
	Steps        []step `json:"steps"`
}

type step struct {
	Name            string                     `json:"name"`
	Method          string                     `json:"method"`
	Path            string                     `json:"path"`
	Query           map[string]any             `json:"query"`
	Body            json.RawMessage            `json:"body"`
	BodyRaw         *string                    `json:"body_raw"`
	BodyText        *string                    `json:"body_text"`
	BodyFile        string                     `json:"body_file"`
	BodySize        int                        `json:"body_size"`
	ContentType     *string                    `json:"content_type"`
	Headers         map[string]string          `json:"headers"`
	Token           *string                    `json:"token"`
	Status          int                        `json:"status"`
	ErrorCode       string                     `json:"error_code"`
	MessageContains string                     `json:"message_contains"`
	Expect          map[string]json.RawMessage `json:"expect"`
	Absent          []string                   `json:"absent"`
	Save            map[string]string          `json:"save"`
	ExpectBodyFile  string                     `json:"expect_body_file"`
	ExpectBodyText  *string                    `json:"expect_body_text"`
	ExpectHeaders   map[string]string          `json:"expect_headers"`
}

var varRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)\}`)

func subst(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := vars[name]
		if !ok {
			t.Fatalf("undefined variable %s", m)
		}
		return v
	})
}

func loadTranscript(t *testing.T, path string) transcript {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tr
}

// run replays the transcript against e.
func (tr transcript) run(t *testing.T, e *env) {
	vars := map[string]string{}
	for i, s := range tr.Steps {
		name := fmt.Sprintf("step %d (%s %s)", i+1, s.Method, s.Path)
		if s.Name != "" {
			name = fmt.Sprintf("step %d: %s", i+1, s.Name)
		}
		if !e.step(name, s, tr.DefaultToken, vars) {
			t.FailNow()
		}
	}
}

func (e *env) step(name string, s step, defaultToken string, vars map[string]string) bool {
	t := e.t
	t.Helper()
	p := subst(t, s.Path, vars)
	if len(s.Query) > 0 {
		q := url.Values{}
		for k, v := range s.Query {
			switch v := v.(type) {
			case string:
				q.Add(k, subst(t, v, vars))
			case []any:
				for _, x := range v {
					q.Add(k, subst(t, fmt.Sprint(x), vars))
				}
			default:
				q.Add(k, fmt.Sprint(v))
			}
		}
		p += "?" + q.Encode()
	}
	var body io.Reader
	ct := ""
	switch {
	case s.Body != nil:
		body, ct = strings.NewReader(subst(t, string(s.Body), vars)), "application/json"
	case s.BodyRaw != nil:
		body, ct = strings.NewReader(*s.BodyRaw), "application/json"
	case s.BodyText != nil:
		body, ct = strings.NewReader(subst(t, *s.BodyText, vars)), "text/plain"
	case s.BodyFile != "":
		b, err := os.ReadFile(filepath.Join("testdata", s.BodyFile))
		if err != nil {
			t.Fatal(err)
		}
		body, ct = bytes.NewReader(b), "application/octet-stream"
	case s.BodySize > 0:
		body, ct = strings.NewReader(`{"name": "`+strings.Repeat("a", s.BodySize)+`"}`), "application/json"
	}
	if s.ContentType != nil {
		ct = *s.ContentType
	}
	token := defaultToken
	if token == "" {
		token = "admin"
	}
	if s.Token != nil {
		token = *s.Token
	}
	req, err := http.NewRequest(s.Method, e.srv.URL+p, body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, subst(t, v, vars))
	}
	if tok, ok := e.tokens[token]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if token != "none" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("%s: reading the body: %v", name, err)
		return false
	}
	want := s.Status
	if want == 0 {
		want = http.StatusOK
	}
	ok := true
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\nbody: %.2000s", append([]any{name}, append(a, raw)...)...)
		ok = false
	}
	if resp.StatusCode != want {
		fail("status %d, want %d", resp.StatusCode, want)
		return false
	}
	for k, v := range s.ExpectHeaders {
		if got := resp.Header.Get(k); got != subst(t, v, vars) {
			fail("header %s = %q, want %q", k, got, v)
		}
	}
	if s.ExpectBodyFile != "" {
		b, err := os.ReadFile(filepath.Join("testdata", s.ExpectBodyFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, b) {
			fail("body differs from %s (%d bytes, want %d)", s.ExpectBodyFile, len(raw), len(b))
		}
		return ok
	}
	if s.ExpectBodyText != nil {
		if string(raw) != subst(t, *s.ExpectBodyText, vars) {
			fail("body differs from the expected text")
		}
		return ok
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		fail("the answer is not JSON: %v", err)
		return false
	}
	if resp.StatusCode >= 400 {
		t.Logf("%s: %d %s", name, resp.StatusCode, raw)
		m, _ := doc.(map[string]any)
		code, _ := m["error_code"].(string)
		msg, _ := m["message"].(string)
		if code == "" || msg == "" {
			fail("an error answer must have error_code and message")
		}
		if s.ErrorCode != "" && code != s.ErrorCode {
			fail("error_code %s, want %s", code, s.ErrorCode)
		}
		if s.MessageContains != "" && !strings.Contains(msg, subst(t, s.MessageContains, vars)) {
			fail("message %q does not contain %q", msg, s.MessageContains)
		}
	}
	for _, path := range slices.Sorted(mapKeys(s.Expect)) {
		got, found := lookup(doc, path)
		var exp any
		if err := json.Unmarshal([]byte(subst(t, string(s.Expect[path]), vars)), &exp); err != nil {
			t.Fatalf("%s: expectation %s: %v", name, path, err)
		}
		if m, isMatcher := exp.(map[string]any); isMatcher && len(m) == 1 {
			if n, ok := m["$len"]; ok {
				arr, _ := got.([]any)
				if !found || float64(len(arr)) != n.(float64) {
					fail("%s has %d elements, want %v", path, len(arr), n)
				}
				continue
			}
			if sub, ok := m["$contains"]; ok {
				str, _ := got.(string)
				if !found || !strings.Contains(str, sub.(string)) {
					fail("%s = %v, want it to contain %q", path, got, sub)
				}
				continue
			}
			if _, ok := m["$present"]; ok {
				if !found {
					fail("%s is missing", path)
				}
				continue
			}
		}
		if !found {
			fail("%s is missing, want %v", path, exp)
			continue
		}
		if !reflect.DeepEqual(got, exp) {
			fail("%s = %#v, want %#v", path, got, exp)
		}
	}
	for _, path := range s.Absent {
		if v, found := lookup(doc, path); found {
			fail("%s = %v, want it absent", path, v)
		}
	}
	for name, path := range s.Save {
		v, found := lookup(doc, path)
		if !found {
			fail("cannot save %s: %s is missing", name, path)
			continue
		}
		switch v := v.(type) {
		case string:
			vars[name] = v
		case float64:
			vars[name] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			b, _ := json.Marshal(v)
			vars[name] = string(b)
		}
	}
	return ok
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// lookup follows a dotted path ("run.info.run_id", "files.0.path").
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for seg := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
