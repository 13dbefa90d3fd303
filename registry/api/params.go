package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/registry"
)

// Page sizes when a request does not give max_results.
const (
	defaultModelResults   = 100
	defaultVersionResults = 100
)

// searchQuery reads filter, order_by (repeatable), max_results and
// page_token. The registry checks the filter, order and token.
func searchQuery(q url.Values, defaultMax int) (registry.SearchQuery, error) {
	sq := registry.SearchQuery{
		Filter:     q.Get("filter"),
		OrderBy:    q["order_by"],
		MaxResults: defaultMax,
		PageToken:  q.Get("page_token"),
	}
	if s := q.Get("max_results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return sq, registry.Invalid("max_results must be a whole number, not %q", s)
		}
		sq.MaxResults = n
	}
	return sq, nil
}

// parseVersion reads a version number, "3" or "v3".
func parseVersion(s string) (int64, error) {
	num := strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || num != strconv.FormatInt(n, 10) {
		return 0, registry.Invalid("version must be a positive number such as 3 or v3, not %q", s)
	}
	return n, nil
}

// auditQuery reads the filters of GET /api/v1/audit.
func auditQuery(q url.Values) (registry.AuditQuery, error) {
	aq := registry.AuditQuery{
		Model:     q.Get("model"),
		Action:    q.Get("action"),
		Actor:     q.Get("actor"),
		PageToken: q.Get("page_token"),
	}
	var err error
	if s := q.Get("version"); s != "" {
		if aq.Version, err = parseVersion(s); err != nil {
			return aq, err
		}
	}
	if aq.Since, err = parseTime("since", q.Get("since")); err != nil {
		return aq, err
	}
	if aq.Until, err = parseTime("until", q.Get("until")); err != nil {
		return aq, err
	}
	if !aq.Since.IsZero() && !aq.Until.IsZero() && aq.Until.Before(aq.Since) {
		return aq, registry.Invalid("until (%s) is before since (%s)", aq.Until.Format(time.RFC3339), aq.Since.Format(time.RFC3339))
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return aq, registry.Invalid("limit must be a positive whole number, not %q", s)
		}
		aq.Limit = n
	}
	return aq, nil
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, registry.Invalid("%s must be an RFC 3339 time such as 2025-03-01T12:00:00Z, not %q", name, s)
	}
	return t, nil
}

// Long-poll timeouts of GET /api/v1/watch.
const (
	defaultWatchTimeout = 30 * time.Second
	maxWatchTimeout     = 5 * time.Minute
)

// watchTimeout reads timeout as a Go duration ("30s") or whole seconds ("30").
func watchTimeout(s string) (time.Duration, error) {
	if s == "" {
		return defaultWatchTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, registry.Invalid("timeout must be a duration such as 30s, not %q", s)
		}
		if n < 0 || n > int(maxWatchTimeout/time.Second) {
			return 0, registry.Invalid("timeout must be between 0s and %s, not %s", maxWatchTimeout, s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 || d > maxWatchTimeout {
		return 0, registry.Invalid("timeout must be between 0s and %s, not %s", maxWatchTimeout, s)
	}
	return d, nil
}

// quoteFilter quotes s as a string of the search filter language.
func quoteFilter(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
