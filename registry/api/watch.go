package api

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lantern-mlops/lantern/internal/server"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// heartbeatInterval is how often an idle event stream sends a comment, so
// proxies and clients can tell a quiet stream from a dead one.
var heartbeatInterval = 15 * time.Second

// GET /api/v1/watch?cursor=&timeout=30s follows the registry's changes.
//
// As a long-poll it answers {changes, cursor, reset} as soon as there is a
// change after cursor, or with no changes when timeout passes. With
// "Accept: text/event-stream" it streams server-sent events instead: "ready"
// with the starting cursor, one "change" per change (its id is the cursor
// after it, so Last-Event-ID resumes exactly), "reset" when the cursor is
// too old, and a comment every 15 s.
//
// Both stop when the client goes away or the server begins to shut down.
func (h *api) watch(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if wantsEventStream(r) {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			cursor = id
		}
		return h.stream(w, r, cursor)
	}
	timeout, err := watchTimeout(q.Get("timeout"))
	if err != nil {
		return err
	}
	ctx, cancel := h.shutdown.context(r)
	defer cancel()
	ctx, cancelPoll := context.WithTimeout(ctx, timeout)
	defer cancelPoll()
	changes, next, reset, err := h.svc.Watch(ctx, cursor)
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []registry.Change{}
	}
	return writeJSON(w, http.StatusOK, wire.WatchResponse{Changes: changes, Cursor: next, Reset: reset})
}

func wantsEventStream(r *http.Request) bool {
	for t := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(t)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// stream serves the change feed as server-sent events.
func (h *api) stream(w http.ResponseWriter, r *http.Request, cursor string) error {
	ctx, cancel := h.shutdown.context(r)
	defer cancel()
	// The first call does not wait (its context is done already): it checks
	// the cursor, so a malformed one still gets a JSON error, and lets the
	// headers go out at once.
	nowait, stop := context.WithCancel(ctx)
	stop()
	changes, next, reset, err := h.svc.Watch(nowait, cursor)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// Events can be minutes apart: no write deadline (servers may set one).
	_ = rc.SetWriteDeadline(time.Time{})

	send := func(event, id string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if id != "" {
			_, err = fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", event, id, b)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		}
		return err
	}
	switch {
	case cursor == "":
		// A client that starts from nothing reads the state after this
		// event and follows from its cursor.
		err = send("ready", next, wire.StreamReady{Cursor: next})
	case len(changes) == 0 && !reset:
		_, err = fmt.Fprint(w, ": resumed\n\n")
	default:
		err = h.sendBatch(send, changes, next, reset)
	}
	if err == nil {
		err = rc.Flush()
	}
	for err == nil {
		cursor = next
		pctx, pcancel := context.WithTimeout(ctx, heartbeatInterval)
		changes, next, reset, err = h.svc.Watch(pctx, cursor)
		pcancel()
		if ctx.Err() != nil || err != nil {
			break
		}
		if len(changes) == 0 && !reset {
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		} else {
			err = h.sendBatch(send, changes, next, reset)
		}
		if err == nil {
			err = rc.Flush()
		}
	}
	if err != nil && ctx.Err() == nil {
		h.log.Debug("event stream ended", "request_id", server.RequestID(r), "err", err)
	}
	// The status is sent; errors from here on have nobody to go to.
	return nil
}

func (h *api) sendBatch(send func(event, id string, data any) error, changes []registry.Change, next string, reset bool) error {
	if reset {
		return send("reset", next, wire.StreamReady{Cursor: next})
	}
	for _, c := range changes {
		if err := send("change", h.svc.CursorAt(c), c); err != nil {
			return err
		}
	}
	return nil
}

// shutdownSignals lets long-lived requests end as soon as their server
// begins to shut down, rather than holding the drain up until its deadline:
// http.Server cancels request contexts only when it closes the connections.
type shutdownSignals struct {
	mu sync.Mutex
	m  map[*http.Server]chan struct{}
}

// context returns the request's context, also cancelled when the
// http.Server serving it starts Shutdown.
func (s *shutdownSignals) context(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return ctx, cancel
	}
	s.mu.Lock()
	if s.m == nil {
		s.m = map[*http.Server]chan struct{}{}
	}
	ch, ok := s.m[srv]
	if !ok {
		ch = make(chan struct{})
		s.m[srv] = ch
		srv.RegisterOnShutdown(func() {
			s.mu.Lock()
			delete(s.m, srv)
			s.mu.Unlock()
			close(ch)
		})
	}
	s.mu.Unlock()
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
