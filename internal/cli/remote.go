package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/registry/client"
)

// clientFlags are the flags of every command that talks to a registry.
type clientFlags struct {
	Registry string `help:"Address of the registry (the server started by 'lantern up')." default:"http://127.0.0.1:8080" env:"LANTERN_REGISTRY" placeholder:"URL"`
	Token    string `help:"API token (see 'lantern token create'). Prefer the environment variable: flags show in process lists." env:"LANTERN_TOKEN" placeholder:"TOKEN"`
	Output   string `short:"o" help:"Output format: table for people, json for scripts." default:"table" enum:"table,json" placeholder:"FORMAT"`
}

func (f *clientFlags) client() (*client.Client, error) {
	return client.New(f.Registry, f.Token)
}

// explain turns a client error into one line that says what to do.
func (f *clientFlags) explain(err error) error {
	if err == nil {
		return nil
	}
	var ue *client.UnreachableError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach the registry at %s: is `lantern up` running? (set the address with --registry or LANTERN_REGISTRY)", f.Registry)
	case errors.As(err, &ue):
		return fmt.Errorf("cannot reach the registry at %s: %v (check --registry or LANTERN_REGISTRY, and the network; running the command again resumes transfers)", f.Registry, ue.Err)
	case errors.Is(err, errkind.Unauthenticated) && f.Token == "":
		return errors.New("the registry needs a token: pass --token or set LANTERN_TOKEN (an administrator creates one with 'lantern token create')")
	case errors.Is(err, errkind.Unauthenticated):
		return errors.New("the registry refused the token: check --token or LANTERN_TOKEN (an administrator creates tokens with 'lantern token create')")
	case errors.Is(err, errkind.PermissionDenied):
		return fmt.Errorf("%s: ask an administrator for a token with that role", oneLine(err.Error()))
	case strings.Contains(err.Error(), "\n"):
		return &oneLineError{err}
	}
	return err // kept as is, so Run still sees a cancellation
}

// oneLineError prints a multi-line error on one line.
type oneLineError struct{ err error }

func (e *oneLineError) Error() string { return oneLine(e.err.Error()) }
func (e *oneLineError) Unwrap() error { return e.err }

// isTTY reports whether f is a terminal. (A character device is not
// enough: /dev/null is one.)
func isTTY(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// printJSON writes v indented, for scripts.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns for people.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (t *table) row(cells ...any) {
	strs := make([]string, len(cells))
	for i, c := range cells {
		s := fmt.Sprint(c)
		// Cells are one line each; tabs would break the columns.
		strs[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
	}
	fmt.Fprintln(t.tw, strings.Join(strs, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// when formats a time for tables: local time to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate shortens s to n characters for a table cell.
func truncate(s string, n int) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// kv formats a map as "k=v, k=v" in key order.
func kv[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// humanBytes formats a size with binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// minProgress is the smallest transfer worth reporting.
const minProgress = 4 << 20

// progress reports a transfer on stderr: a bar on a terminal, a line every
// 10% or 10 s otherwise (logs, CI, redirected output).
type progress struct {
	bar      *progressbar.ProgressBar
	w        io.Writer
	verb     string
	lastPct  int64
	lastTime time.Time
	done     bool
}

func newProgress(stderr io.Writer, verb string, total int64) *progress {
	p := &progress{w: stderr, verb: verb, lastPct: -1, lastTime: time.Now()}
	if total < minProgress {
		p.done = true // over in a moment: no report
	}
	if f, ok := stderr.(*os.File); ok && isTTY(f) && total >= minProgress {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
		)
	}
	return p
}

// set reports done bytes of total.
func (p *progress) set(done, total int64) {
	if p.bar != nil {
		_ = p.bar.Set64(done)
		return
	}
	if total <= 0 || p.done {
		return
	}
	pct := done * 100 / total
	if pct/10 == p.lastPct/10 && time.Since(p.lastTime) < 10*time.Second && done != total {
		return
	}
	p.lastPct, p.lastTime = pct, time.Now()
	fmt.Fprintf(p.w, "%s %s of %s (%d%%)\n", p.verb, humanBytes(done), humanBytes(total), pct)
	if done == total {
		p.done = true
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
