package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

func TestWatchLongPoll(t *testing.T) {
	e := newEnv(t)
	e.model("demand", 2)

	start := time.Now()
	status, _, body := e.call("GET", "/api/v1/watch", e.Reader, nil)
	first := decode[wire.WatchResponse](t, body)
	if status != 200 || first.Cursor == "" || len(first.Changes) != 0 || first.Reset || time.Since(start) > time.Second {
		t.Fatalf("empty cursor: %d %s after %s", status, body, time.Since(start))
	}

	setDone := make(chan struct{})
	go func() {
		defer close(setDone)
		time.Sleep(100 * time.Millisecond)
		if err := e.Service.SetAlias(e.ctx(), "demand", "production", 2); err != nil {
			t.Error(err)
		}
	}()
	defer func() { <-setDone }()
	status, _, body = e.call("GET", "/api/v1/watch?timeout=10s&cursor="+url.QueryEscape(first.Cursor), e.Reader, nil)
	got := decode[wire.WatchResponse](t, body)
	if status != 200 || len(got.Changes) != 1 || got.Cursor == first.Cursor {
		t.Fatalf("watch: %d %s", status, body)
	}
	if c := got.Changes[0]; c.Action != registry.ActionAliasSet || c.Model != "demand" || c.Aliases["production"] != 2 {
		t.Fatalf("change %+v", c)
	}

	start = time.Now()
	_, _, body = e.call("GET", "/api/v1/watch?timeout=200ms&cursor="+url.QueryEscape(got.Cursor), e.Reader, nil)
	idle := decode[wire.WatchResponse](t, body)
	if len(idle.Changes) != 0 || idle.Cursor != got.Cursor || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("timeout: %s after %s", body, time.Since(start))
	}

	// A cursor of another process lifetime: start over.
	_, _, body = e.call("GET", "/api/v1/watch?timeout=1s&cursor=0000.5", e.Reader, nil)
	if r := decode[wire.WatchResponse](t, body); !r.Reset || r.Cursor != got.Cursor {
		t.Fatalf("foreign cursor: %s", body)
	}
}

// event is one server-sent event.
type event struct {
	name, id, data string
	comments       []string
}

func readEvent(t *testing.T, r *bufio.Reader) (event, error) {
	t.Helper()
	var ev event
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev, nil
			}
			if len(ev.comments) > 0 {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			ev.comments = append(ev.comments, strings.TrimSpace(line[1:]))
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data += line[len("data: "):]
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
}

func (e *env) stream(lastEventID string) (*http.Response, *bufio.Reader) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/watch", nil)
	req.Header.Set("Authorization", "Bearer "+e.Reader)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("stream: %s %v", resp.Status, resp.Header)
	}
	return resp, bufio.NewReader(resp.Body)
}

// nextChange reads events until a change, skipping heartbeats.
func nextChange(t *testing.T, r *bufio.Reader) (event, registry.Change) {
	t.Helper()
	for {
		ev, err := readEvent(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if ev.name == "change" {
			var c registry.Change
			if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
				t.Fatal(err)
			}
			return ev, c
		}
	}
}

func TestWatchEventStream(t *testing.T) {
	defer api.SetHeartbeat(50 * time.Millisecond)()
	e := newEnv(t)
	e.model("demand", 2)

	_, r := e.stream("")
	ready, err := readEvent(t, r)
	if err != nil || ready.name != "ready" || ready.id == "" || !strings.Contains(ready.data, ready.id) {
		t.Fatalf("first event %+v %v", ready, err)
	}
	if err := e.Service.SetAlias(e.ctx(), "demand", "production", 2); err != nil {
		t.Fatal(err)
	}
	ev, c := nextChange(t, r)
	if c.Action != registry.ActionAliasSet || c.Aliases["production"] != 2 || ev.id == "" || ev.id == ready.id {
		t.Fatalf("change %+v %+v", ev, c)
	}
	// Idle: heartbeats.
	if hb, err := readEvent(t, r); err != nil || len(hb.comments) == 0 || hb.comments[0] != "heartbeat" {
		t.Fatalf("heartbeat %+v %v", hb, err)
	}

	// Resuming with Last-Event-ID delivers what came after that event only.
	if err := e.Service.SetAlias(e.ctx(), "demand", "candidate", 1); err != nil {
		t.Fatal(err)
	}
	_, r2 := e.stream(ev.id)
	_, c2 := nextChange(t, r2)
	if c2.Aliases["candidate"] != 1 || c2.Seq != c.Seq+1 {
		t.Fatalf("resumed with %+v after %+v", c2, c)
	}
	// The first stream sees it too.
	if _, c1 := nextChange(t, r); c1.Seq != c2.Seq {
		t.Fatalf("first stream: %+v", c1)
	}

	// Shutdown ends the streams at once instead of waiting for the drain deadline.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.HTTP.Config.Shutdown(ctx) }()
	for _, rd := range []*bufio.Reader{r, r2} {
		for {
			_, err := readEvent(t, rd)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("stream ended with %v", err)
				}
				break
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
}

func TestWatchEventStreamReset(t *testing.T) {
	e := newEnv(t)
	_, r := e.stream("0000.7")
	ev, err := readEvent(t, r)
	if err != nil || ev.name != "reset" || ev.id == "" {
		t.Fatalf("first event %+v %v", ev, err)
	}
	// A malformed cursor is refused before the stream starts.
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/watch?cursor=garbage", nil)
	req.Header.Set("Authorization", "Bearer "+e.Reader)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, body, 400, "INVALID_ARGUMENT", "cursor")
}
