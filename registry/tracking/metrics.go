package tracking

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/lantern-mlops/lantern/objstore"
)

// Metric history is kept per run and key in pages of HistoryPageSize points:
// a log call appends to the last page with compare-and-swap and opens the
// next page create-only when it is full, so every write touches one small
// object however long the history grows, and point i is always on page
// i / HistoryPageSize.
const HistoryPageSize = 1000

// History limits of metrics/get-history, as in MLflow.
const (
	DefaultHistoryResults = 25000
	MaxHistoryResults     = 25000
)

type historyPoint struct {
	V Float `json:"v"`
	T int64 `json:"t"`
	S int64 `json:"s"`
}

type historyPage struct {
	P []historyPoint `json:"p"`
}

// appendHistory appends points of one metric key, in order.
func (s *Store) appendHistory(ctx context.Context, runID, key string, ms []Metric) error {
	prefix := historyPrefix(runID, key)
	mu := s.stripe(prefix)
	mu.Lock()
	defer mu.Unlock()
	if slices.ContainsFunc(ms, func(m Metric) bool { return m.ModelID != "" }) {
		// Points linked to a logged model are often points of the history
		// logged again (see LogBatch): skip those already there.
		have, err := s.historyPoints(ctx, prefix)
		if err != nil {
			return err
		}
		kept := make([]Metric, 0, len(ms))
		for _, m := range ms {
			k := pointKeyOf(m)
			if m.ModelID != "" && have[k] {
				continue
			}
			have[k] = true
			kept = append(kept, m)
		}
		if len(kept) == 0 {
			return nil
		}
		ms = kept
	}
	pts := make([]historyPoint, len(ms))
	for i, m := range ms {
		pts[i] = historyPoint{Float(m.Value), m.Timestamp, m.Step}
	}
	page, err := s.lastPage(ctx, prefix)
	if err != nil {
		return err
	}
	for attempt := 0; len(pts) > 0; {
		if attempt == maxAttempts {
			return conflict("metric " + key)
		}
		k := pageKey(prefix, page)
		cur, etag, err := readJSON[historyPage](ctx, s.store, k)
		if errors.Is(err, objstore.ErrNotFound) {
			n := min(len(pts), HistoryPageSize)
			_, err := putJSON(ctx, s.store, k, historyPage{P: pts[:n]}, objstore.PutOptions{IfNoneMatch: true})
			if errors.Is(err, objstore.ErrPrecondition) {
				attempt++
				continue // another writer opened it: append to it instead
			}
			if err != nil {
				return err
			}
			pts = pts[n:]
			if len(pts) > 0 {
				page++
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(cur.P) >= HistoryPageSize {
			page++
			continue
		}
		n := min(len(pts), HistoryPageSize-len(cur.P))
		cur.P = append(cur.P, pts[:n]...)
		_, err = putJSON(ctx, s.store, k, cur, objstore.PutOptions{IfMatch: etag})
		if errors.Is(err, objstore.ErrPrecondition) {
			attempt++
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return err
		}
		pts = pts[n:]
		if len(pts) > 0 {
			page++
		}
	}
	s.historyHints.Store(prefix, page)
	return nil
}

// pointKey identifies a point of a metric's history.
type pointKey struct {
	value           uint64
	timestamp, step int64
}

func pointKeyOf(m Metric) pointKey {
	return pointKey{math.Float64bits(m.Value), m.Timestamp, m.Step}
}

// historyPoints reads every point of a metric's history.
func (s *Store) historyPoints(ctx context.Context, prefix string) (map[pointKey]bool, error) {
	have := map[pointKey]bool{}
	for page := 0; ; page++ {
		cur, _, err := readJSON[historyPage](ctx, s.store, pageKey(prefix, page))
		if errors.Is(err, objstore.ErrNotFound) {
			return have, nil
		}
		if err != nil {
			return nil, err
		}
		for _, p := range cur.P {
			have[pointKey{math.Float64bits(float64(p.V)), p.T, p.S}] = true
		}
		if len(cur.P) < HistoryPageSize {
			return have, nil
		}
	}
}

// lastPage returns the number of the last history page (0 if none): the
// remembered one, or the last in a listing.
func (s *Store) lastPage(ctx context.Context, prefix string) (int, error) {
	if v, ok := s.historyHints.Load(prefix); ok {
		return v.(int), nil
	}
	last := 0
	for info, err := range s.store.List(ctx, prefix, objstore.ListOptions{}) {
		if err != nil {
			return 0, err
		}
		if n, ok := pageFromKey(prefix, info.Key); ok && n > last {
			last = n
		}
	}
	return last, nil
}

// MetricHistory returns the logged values of a metric in the order they
// were logged, at most maxResults of them (0: DefaultHistoryResults) from
// the position pageToken names, and the token of the next page.
func (s *Store) MetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) ([]Metric, string, error) {
	switch {
	case maxResults == 0:
		maxResults = DefaultHistoryResults
	case maxResults < 0 || maxResults > MaxHistoryResults:
		return nil, "", invalid("Invalid value %d for parameter 'max_results': it must be between 1 and %d", maxResults, MaxHistoryResults)
	}
	offset := 0
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		var t struct {
			O int `json:"o"`
		}
		if err == nil {
			err = json.Unmarshal(b, &t)
		}
		if err != nil || t.O < 0 {
			return nil, "", invalid("Invalid page token: use the next_page_token of a previous response")
		}
		offset = t.O
	}
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, "", err
	}
	prefix := historyPrefix(runID, key)
	out := []Metric{}
	for page := offset / HistoryPageSize; ; page++ {
		cur, _, err := readJSON[historyPage](ctx, s.store, pageKey(prefix, page))
		if errors.Is(err, objstore.ErrNotFound) {
			return out, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		start := 0
		if page == offset/HistoryPageSize {
			start = offset % HistoryPageSize
		}
		for i := start; i < len(cur.P); i++ {
			if len(out) == maxResults {
				return out, historyToken(page*HistoryPageSize + i), nil
			}
			p := cur.P[i]
			out = append(out, Metric{Key: key, Value: float64(p.V), Timestamp: p.T, Step: p.S})
		}
		if len(cur.P) < HistoryPageSize {
			return out, "", nil
		}
	}
}

func historyToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"o":` + strconv.Itoa(offset) + `}`))
}
