package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HTTP serves a handler on a listener until its context ends, then drains:
// it stops accepting, waits up to DrainTimeout for requests in flight, and
// closes what is left.
type HTTP struct {
	Handler      http.Handler
	Listener     net.Listener
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Listen opens a TCP listener with a clear error when the address is taken.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another server using it? choose another address with the flag)", addr, err)
	}
	return l, nil
}

// Run serves until ctx is done and returns after the drain.
func (h *HTTP) Run(ctx context.Context) error {
	if h.DrainTimeout <= 0 {
		h.DrainTimeout = 15 * time.Second
	}
	srv := &http.Server{
		Handler:           h.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
	if h.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(h.Logger.Handler(), slog.LevelWarn)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(h.Listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), h.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-errc
	return err
}
