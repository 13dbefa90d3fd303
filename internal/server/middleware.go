package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/errkind"
)

// ErrorWriter writes err to w in an API's own error format.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// ErrInternal is what a client sees instead of a panic or an unexpected
// error; the details are logged under the request id.
var ErrInternal = errors.New("internal error")

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the request's id (set by Wrap).
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// Options configures Wrap.
type Options struct {
	// Name labels metrics and logs ("mlflow", "api", "oip").
	Name string
	// Auth authenticates callers; nil lets everyone through (health, metrics).
	Auth *auth.Authenticator
	// Role returns the role a request needs; nil means auth.RoleFor(r.Method).
	Role func(r *http.Request) auth.Role
	// Errors writes errors in the API's format.
	Errors ErrorWriter
	// Logger receives one line per request (never bodies, never tokens).
	Logger *slog.Logger
	// Metrics counts requests; nil disables.
	Metrics *Metrics
	// MaxBody bounds request bodies (0: no limit, for streamed uploads).
	MaxBody int64
	// QuietSuccess logs successful requests at debug level: for the
	// inference APIs, where a line per request would drown everything else.
	QuietSuccess bool
}

// Wrap adds a request id, panic recovery, authentication, a body limit,
// metrics and an access log around h.
func Wrap(h http.Handler, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Role == nil {
		o.Role = func(r *http.Request) auth.Role { return auth.RoleFor(r.Method) }
	}
	log := o.Logger.With("api", o.Name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(contextWithID(r, id))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		principal := "-"
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !rec.wrote {
					o.Errors(rec, r, fmt.Errorf("%w (request id %s)", ErrInternal, id))
				}
			}
			d := time.Since(start)
			if o.Metrics != nil {
				o.Metrics.observe(o.Name, r.Method, rec.status, d)
			}
			level := slog.LevelInfo
			switch {
			case rec.status >= 500:
				level = slog.LevelError
			case o.QuietSuccess && rec.status < 400:
				level = slog.LevelDebug
			}
			log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000, "principal", principal)
		}()
		if o.Auth != nil {
			p, err := o.Auth.Authenticate(r.Header.Get("Authorization"))
			if err == nil {
				err = auth.Authorize(p, o.Role(r))
			}
			if err != nil {
				if p.Name != "" {
					principal = p.Name
				}
				o.Errors(rec, r, err)
				return
			}
			principal = p.Name
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		if o.MaxBody > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, o.MaxBody)
		}
		h.ServeHTTP(rec, r)
	})
}

// TooLarge converts the error of a body over Options.MaxBody into an
// errkind.TooLarge error with a helpful message; other errors pass through.
func TooLarge(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Errorf("%w: the request body is over the %d-byte limit", errkind.TooLarge, mb.Limit)
	}
	return err
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers (server-sent events) flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		r.wrote = true
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Metrics are the HTTP request metrics shared by every API.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by API, method and status code.",
		}, []string{"api", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by API and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api", "method"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

func (m *Metrics) observe(api, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(api, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(api, method).Observe(d.Seconds())
}
