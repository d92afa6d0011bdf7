package server_test

import (
	"net/http"
	"testing"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/baseline"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// discardWriter is a ResponseWriter that keeps only the status: httptest.ResponseRecorder
// would copy every body and add its own allocations to the figures.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchmarkProfile serves GET /auth/profile with a valid access token, in process (no network),
// through the handler build makes from a server on a fresh database: the authentication's query
// runs against the real PostgreSQL.
func benchmarkProfile(b *testing.B, build func(server.Config) (http.Handler, error)) {
	env := servertest.New(b)
	auth := env.Register(b, servertest.Email("bench"))
	handler, err := build(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "/auth/profile", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auth.AccessToken)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.status = 0
		handler.ServeHTTP(w, req)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkProfile is the whole API path: middleware, token verification, session lookup,
// handler, JSON response.
func BenchmarkProfile(b *testing.B) {
	benchmarkProfile(b, func(c server.Config) (http.Handler, error) {
		h, err := server.New(c)
		if err != nil {
			return nil, err
		}
		b.Cleanup(func() { _ = h.Close() })
		return h, nil
	})
}

// BenchmarkAuthMiddleware is the contract middleware alone (spec routing, token verification,
// session lookup, validation) in front of a fixed answer.
func BenchmarkAuthMiddleware(b *testing.B) {
	benchmarkProfile(b, func(c server.Config) (http.Handler, error) { return baseline.New(c, baseline.Session) })
}

// BenchmarkTokenMiddleware is the router and outer middleware plus the token's verification, no
// database.
func BenchmarkTokenMiddleware(b *testing.B) {
	benchmarkProfile(b, func(c server.Config) (http.Handler, error) { return baseline.New(c, baseline.Verify) })
}

// BenchmarkBareRouter is the router and outer middleware (request id, access log, panic handler).
func BenchmarkBareRouter(b *testing.B) {
	benchmarkProfile(b, func(c server.Config) (http.Handler, error) { return baseline.New(c, baseline.Bare) })
}
