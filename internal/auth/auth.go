package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/lantern-mlops/lantern/internal/errkind"
)

// Errors returned by Authenticate and Authorize.
var (
	// ErrUnauthenticated: no token, or an unknown one (HTTP 401).
	ErrUnauthenticated = errkind.Unauthenticated
	// ErrPermissionDenied: the token's role is too low (HTTP 403).
	ErrPermissionDenied = errkind.PermissionDenied
)

// Role is what a token may do. Higher roles include lower ones.
type Role int

// Roles.
const (
	RoleNone Role = iota
	RoleReader
	RoleWriter
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleReader:
		return "reader"
	case RoleWriter:
		return "writer"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads "reader", "writer" or "admin".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "reader", "read":
		return RoleReader, nil
	case "writer", "write":
		return RoleWriter, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q: use reader, writer or admin", s)
}

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role Role
}

// Entry is a token as the server stores it: a name, a role and the sha256.
type Entry struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	SHA256 string `json:"sha256"`
}

// File is the tokens file format.
type File struct {
	Tokens []Entry `json:"tokens"`
}

// Generate returns a new random token.
func Generate() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "lnt_" + base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the hex sha256 of a token, as stored in Entry.SHA256.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Config says where tokens come from and how strict to be.
type Config struct {
	// TokensFile is a YAML file in the File format. It is re-read when it changes.
	TokensFile string
	// Tokens is a comma-separated list of name:role:sha256 (LANTERN_TOKENS).
	Tokens string
	// Insecure lets every request through as an admin. Local use only.
	Insecure bool
	// AnonymousRead lets requests without a token read.
	AnonymousRead bool
}

// Authenticator checks tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.RWMutex
	byHash  map[string]Principal
	mtime   time.Time
	fromEnv map[string]Principal
}

// New loads the tokens. A malformed entry is an error naming it.
func New(cfg Config, logger *slog.Logger) (*Authenticator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{cfg: cfg, log: logger.With("component", "auth")}
	env, err := parseList(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("LANTERN_TOKENS: %w", err)
	}
	a.fromEnv = env
	if err := a.reload(); err != nil {
		return nil, err
	}
	return a, nil
}

func parseList(s string) (map[string]Principal, error) {
	out := map[string]Principal{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) == 4 && parts[2] == "sha256" {
			parts = []string{parts[0], parts[1], parts[3]}
		}
		if len(parts) != 3 {
			return nil, fmt.Errorf("entry %q: want name:role:sha256-hex", redact(item))
		}
		p, h, err := entry(Entry{Name: parts[0], Role: parts[1], SHA256: parts[2]})
		if err != nil {
			return nil, err
		}
		out[h] = p
	}
	return out, nil
}

func entry(e Entry) (Principal, string, error) {
	role, err := ParseRole(e.Role)
	if err != nil {
		return Principal{}, "", fmt.Errorf("token %q: %w", e.Name, err)
	}
	h := strings.ToLower(strings.TrimPrefix(e.SHA256, "sha256:"))
	if e.Name == "" {
		return Principal{}, "", errors.New("a token entry has no name")
	}
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return Principal{}, "", fmt.Errorf("token %q: sha256 must be 64 hex characters (store the hash from `lantern token create`, never the token itself)", e.Name)
	}
	return Principal{Name: e.Name, Role: role}, h, nil
}

// reload re-reads the tokens file if it changed.
func (a *Authenticator) reload() error {
	m := map[string]Principal{}
	for h, p := range a.fromEnv {
		m[h] = p
	}
	var mtime time.Time
	if a.cfg.TokensFile != "" {
		st, err := os.Stat(a.cfg.TokensFile)
		if err != nil {
			return fmt.Errorf("tokens file: %w", err)
		}
		a.mu.RLock()
		same := st.ModTime().Equal(a.mtime)
		a.mu.RUnlock()
		if same {
			return nil
		}
		mtime = st.ModTime()
		b, err := os.ReadFile(a.cfg.TokensFile)
		if err != nil {
			return fmt.Errorf("tokens file: %w", err)
		}
		var f File
		if err := yaml.UnmarshalStrict(b, &f); err != nil {
			return fmt.Errorf("tokens file %s: %w", a.cfg.TokensFile, err)
		}
		for _, e := range f.Tokens {
			p, h, err := entry(e)
			if err != nil {
				return fmt.Errorf("tokens file %s: %w", a.cfg.TokensFile, err)
			}
			m[h] = p
		}
	}
	a.mu.Lock()
	a.byHash, a.mtime = m, mtime
	a.mu.Unlock()
	return nil
}

// Run re-reads the tokens file when it changes, until ctx is done.
func (a *Authenticator) Run(ctx context.Context) error {
	if a.cfg.TokensFile == "" {
		return nil
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.reload(); err != nil {
				a.log.Error("tokens file not reloaded; keeping the previous tokens", "err", err)
			}
		}
	}
}

// Count is the number of configured tokens.
func (a *Authenticator) Count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.byHash)
}

// Insecure reports whether every request is let through.
func (a *Authenticator) Insecure() bool { return a.cfg.Insecure }

// Authenticate identifies the caller from an Authorization header value
// ("Bearer <token>" or "Basic <user:token>").
func (a *Authenticator) Authenticate(authorization string) (Principal, error) {
	if a.cfg.Insecure {
		return Principal{Name: "anonymous", Role: RoleAdmin}, nil
	}
	token := bearer(authorization)
	if token == "" {
		if a.cfg.AnonymousRead {
			return Principal{Name: "anonymous", Role: RoleReader}, nil
		}
		return Principal{}, fmt.Errorf("%w: send an API token as 'Authorization: Bearer <token>' (MLflow clients: set MLFLOW_TRACKING_TOKEN)", ErrUnauthenticated)
	}
	a.mu.RLock()
	p, ok := a.byHash[Hash(token)]
	a.mu.RUnlock()
	if !ok {
		return Principal{}, fmt.Errorf("%w: the API token is not valid", ErrUnauthenticated)
	}
	return p, nil
}

// Authorize checks that p may act with role need.
func Authorize(p Principal, need Role) error {
	if p.Role >= need {
		return nil
	}
	return fmt.Errorf("%w: %q has the %s role; this needs a token with the %s role", ErrPermissionDenied, p.Name, p.Role, need)
}

func bearer(h string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return ""
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest
	case "basic":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		_, pass, _ := strings.Cut(string(b), ":")
		return pass
	}
	return ""
}

// RoleFor is the role an HTTP method needs by default: reads need a reader,
// everything else a writer.
func RoleFor(method string) Role {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return RoleReader
	}
	return RoleWriter
}

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal stored by WithPrincipal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

func redact(s string) string {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		return s[:i+1] + "…"
	}
	return "…"
}
