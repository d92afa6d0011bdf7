package problem_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// discardWriter keeps nothing: the benchmarks measure building and encoding the problem.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func request(b *testing.B) *http.Request {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, "/auth/profile", nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := problem.WithRequest(context.Background(), &problem.Request{ID: "01JD6Z8Q4J5X9M3V2T7R1K0B8C", Path: "/auth/profile"})
	return req.WithContext(ctx)
}

// BenchmarkWriteCode is the commonest problem: a 401 for a bad token, on every refused request.
func BenchmarkWriteCode(b *testing.B) {
	req := request(b)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		problem.WriteCode(w, req, api.ProblemCodeTokenRevoked, "The session of this token has ended.")
	}
}

// BenchmarkWriteValidation is a 400 listing the fields at fault.
func BenchmarkWriteValidation(b *testing.B) {
	req := request(b)
	w := &discardWriter{header: http.Header{}}
	fields := []api.FieldError{
		{Field: "email", Message: "must be a valid email address"},
		{Field: "password", Message: "must be at least 8 bytes long"},
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		problem.Write(w, problem.Invalid(req.Context(), fields))
	}
}
