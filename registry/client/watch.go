package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/registry/api/wire"
)

// Watch long-polls the change feed: it returns the changes after cursor as
// soon as there are some, or none after timeout (0: the server's 30 s).
// Start with an empty cursor, which returns at once with the current one;
// then read the state you follow; then watch from the cursor. When the
// answer has Reset set, the changes since cursor are unknown: read the state
// again and continue from the new cursor.
func (c *Client) Watch(ctx context.Context, cursor string, timeout time.Duration) (*wire.WatchResponse, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	q := url.Values{"timeout": {strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64) + "s"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	var out wire.WatchResponse
	if err := c.callOnce(ctx, http.MethodGet, "/watch", q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// Follow watches from cursor until ctx ends or fn returns an error, calling
// fn for every answer with changes or a reset. Network failures and server
// errors are retried with backoff (doubling up to 30 s), without limit: a
// field office may be offline for hours. It returns ctx's error or fn's.
func (c *Client) Follow(ctx context.Context, cursor string, fn func(changes []registry.Change, cursor string, reset bool) error) error {
	failures := 0
	for {
		resp, err := c.Watch(ctx, cursor, 0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !retryable(ctx, err) {
				return err
			}
			if err := sleep(ctx, c.delay(min(failures, 10))); err != nil {
				return err
			}
			failures++
			continue
		}
		failures = 0
		if len(resp.Changes) > 0 || resp.Reset {
			if err := fn(resp.Changes, resp.Cursor, resp.Reset); err != nil {
				return err
			}
		}
		cursor = resp.Cursor
	}
}

// Audit returns one page of audit events matching q, newest first, and the
// token of the next page.
func (c *Client) Audit(ctx context.Context, q registry.AuditQuery) ([]*registry.Event, string, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("model", q.Model)
	set("action", q.Action)
	set("actor", q.Actor)
	set("page_token", q.PageToken)
	if q.Version > 0 {
		v.Set("version", strconv.FormatInt(q.Version, 10))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out wire.AuditList
	err := c.call(ctx, http.MethodGet, "/audit", v, nil, &out)
	return out.Events, out.NextPageToken, err
}

// AuditEvents iterates over every page of Audit.
func (c *Client) AuditEvents(ctx context.Context, q registry.AuditQuery) iter.Seq2[*registry.Event, error] {
	return func(yield func(*registry.Event, error) bool) {
		for {
			events, next, err := c.Audit(ctx, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range events {
				if !yield(e, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			q.PageToken = next
		}
	}
}
