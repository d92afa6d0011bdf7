package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
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

// benchmarkBrandRead serves one brand-scoped GET in process through server.New on a fresh
// database: a brand owner with products products, the request built by path from the brand and
// the first product's id. Everything the API does for the read runs: routing, the contract
// middleware, the session cache, the brand scope's pipeline against PostgreSQL, JSON.
func benchmarkBrandRead(b *testing.B, products int, path func(brand, product string) string) {
	env := servertest.New(b)
	owner := env.Register(b, servertest.Email("bench"))
	brand := *owner.User.BrandId
	var first string
	for i := range products {
		created, err := env.Client.CreateProductWithResponse(b.Context(), brand, api.CreateProductRequest{
			Sku: fmt.Sprintf("BENCH-%04d", i), Name: fmt.Sprintf("Bench product %d", i), PriceAmount: 1999,
			Description: new("A product for the benchmark"), Tags: &api.Tags{"bench", "brass"},
			Attributes: &api.Attributes{"color": "black", "size": "M"},
		}, servertest.Bearer(owner.AccessToken))
		if err != nil || created.JSON201 == nil {
			b.Fatalf("create product: %v %s", err, created.Body)
		}
		if i == 0 {
			first = created.JSON201.Id.String()
		}
	}
	// As the load harness runs it: LOG_LEVEL=warn, so a request writes no access log line.
	cfg := env.Config
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	handler, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = handler.Close() })
	req, err := http.NewRequest(http.MethodGet, path(brand.String(), first), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:49152" // as net/http sets it
	req.Header.Set("Authorization", "Bearer "+owner.AccessToken)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	// The process's CPU per request, the collector's and the scheduler's included: what the
	// server spends on the read, where ns/op also counts the wait for PostgreSQL (another
	// process).
	before := processCPU(b)
	for b.Loop() {
		clear(w.header)
		w.status = 0
		handler.ServeHTTP(w, req)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(processCPU(b)-before)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkProductGet is GET /brands/{brandId}/products/{productId}, the whole request path.
func BenchmarkProductGet(b *testing.B) {
	benchmarkBrandRead(b, 1, func(brand, product string) string {
		return "/brands/" + brand + "/products/" + product
	})
}

// BenchmarkProductList is the first page (20) of GET /brands/{brandId}/products.
func BenchmarkProductList(b *testing.B) {
	benchmarkBrandRead(b, 25, func(brand, _ string) string {
		return "/brands/" + brand + "/products"
	})
}

// BenchmarkProductListOne is a page of one product (two rows read, for the next cursor): beside
// BenchmarkProductList, it tells what each further row of a page costs from what the request
// costs.
func BenchmarkProductListOne(b *testing.B) {
	benchmarkBrandRead(b, 25, func(brand, _ string) string {
		return "/brands/" + brand + "/products?limit=1"
	})
}

// BenchmarkProductSearch is a search, `q`, whose first page holds the same twenty products as
// BenchmarkProductList's: beside it, it tells what the search's own code costs the server (the
// parameter, the pattern, the query's other plan) from what the page costs.
func BenchmarkProductSearch(b *testing.B) {
	benchmarkBrandRead(b, 25, func(brand, _ string) string {
		return "/brands/" + brand + "/products?q=bench"
	})
}
