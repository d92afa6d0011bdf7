package load_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

func TestSummarizeNearestRank(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := load.Summarize(d)
	if s.Count != 100 || s.P50 != 50*time.Millisecond || s.P90 != 90*time.Millisecond ||
		s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("summary = %+v", s)
	}
	if got := load.Summarize(nil); got != (load.Summary{}) {
		t.Errorf("empty summary = %+v", got)
	}
	if got := load.Summarize([]time.Duration{7}); got.P50 != 7 || got.P99 != 7 {
		t.Errorf("one sample = %+v", got)
	}
}

// counter is a stateful client: it sends its count and checks the echo, like a refresh client
// carries its token forward.
type counter struct {
	n    int
	seen atomic.Int64
}

func (c *counter) Next() load.Request {
	return load.Request{Method: http.MethodPost, Path: "/echo", Bearer: "tok", Body: []byte(`{"n":` + strconv.Itoa(c.n) + `}`)}
}

func (c *counter) Done(status int, body []byte, err error) error {
	if err != nil || status != http.StatusOK {
		return nil
	}
	c.seen.Add(1)
	if !strings.Contains(string(body), strconv.Itoa(c.n)) {
		return errors.New("wrong echo")
	}
	c.n++
	return nil
}

func TestRunCountsAnswersAndErrors(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if calls.Add(1)%10 == 0 {
			http.Error(w, "every tenth fails", http.StatusTeapot)
			return
		}
		_, _ = io.Copy(w, r.Body)
	}))
	defer srv.Close()

	clients := make([]*counter, 4)
	res, err := load.Run(context.Background(), load.Config{
		BaseURL:     srv.URL,
		Connections: 4,
		Duration:    200 * time.Millisecond,
		NewClient: func(i int) load.Client {
			clients[i] = &counter{}
			return clients[i]
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	total := int(calls.Load())
	if res.OK+res.Errors != total || res.OK == 0 {
		t.Fatalf("ok %d + errors %d != %d calls", res.OK, res.Errors, total)
	}
	if res.ErrorKinds["HTTP 418"] != res.Errors {
		t.Errorf("error kinds = %v, errors = %d", res.ErrorKinds, res.Errors)
	}
	if res.Latency.Count != total || res.Rate() <= 0 || res.Elapsed < 200*time.Millisecond {
		t.Errorf("latency count %d, rate %.0f, elapsed %s", res.Latency.Count, res.Rate(), res.Elapsed)
	}
	var advanced int64
	for _, c := range clients {
		advanced += int64(c.n)
	}
	if advanced != int64(res.OK) {
		t.Errorf("clients advanced %d times, %d OK answers", advanced, res.OK)
	}
}

func TestRunWaitsForRequestsInFlight(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	defer srv.Close()
	res, err := load.Run(context.Background(), load.Config{
		BaseURL:     srv.URL,
		Connections: 2,
		Duration:    50 * time.Millisecond,
		NewClient: func(int) load.Client {
			return load.Func(func() load.Request { return load.Request{Method: http.MethodGet, Path: "/"} })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 2 || res.Elapsed < 300*time.Millisecond {
		t.Errorf("ok = %d, elapsed = %s: the requests in flight at the end were not counted", res.OK, res.Elapsed)
	}
}

func TestRunTransportErrorsAreCounted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Second)
	}))
	defer srv.Close()
	res, err := load.Run(context.Background(), load.Config{
		BaseURL:     srv.URL,
		Connections: 1,
		Duration:    10 * time.Millisecond,
		Timeout:     50 * time.Millisecond,
		NewClient: func(int) load.Client {
			return load.Func(func() load.Request { return load.Request{Method: http.MethodGet, Path: "/"} })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors != 1 || len(res.ErrorKinds) != 1 {
		t.Errorf("ok %d, errors %d, kinds %v", res.OK, res.Errors, res.ErrorKinds)
	}
}

// TestRunPerRequestExpectAndRefusal: a client that alternates a POST (201, or a 422 it expects
// when there is nothing left) and a DELETE (204) has each answer judged by its own request.
func TestRunPerRequestExpectAndRefusal(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case posts.Add(1)%3 == 0:
			http.Error(w, "none left", http.StatusUnprocessableEntity)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()

	res, err := load.Run(context.Background(), load.Config{
		BaseURL:     srv.URL,
		Connections: 2,
		Duration:    100 * time.Millisecond,
		NewClient: func(int) load.Client {
			n := 0
			return load.Func(func() load.Request {
				n++
				if n%2 == 0 {
					return load.Request{Method: http.MethodDelete, Path: "/r/1", Expect: http.StatusNoContent}
				}
				return load.Request{Method: http.MethodPost, Path: "/r", Body: []byte(`{}`), Expect: http.StatusCreated, Refusal: http.StatusUnprocessableEntity}
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Refused == 0 || res.OK == 0 || int64(res.Refused) > posts.Load() {
		t.Errorf("ok %d, refused %d, errors %d (%v)", res.OK, res.Refused, res.Errors, res.ErrorKinds)
	}
	if res.Latency.Count != res.OK+res.Refused {
		t.Errorf("latency count %d, answers %d", res.Latency.Count, res.OK+res.Refused)
	}
}
