package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
)

func TestPanicBecomesAnOpaqueProblem(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := requestID(nil)(accessLog(log)(recoverer(log)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("pq: relation \"users\" does not exist")
	}))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))

	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic answered %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Code != api.ProblemCodeInternalError || p.RequestId == "" || p.RequestId != rec.Header().Get("X-Request-Id") {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(rec.Body.String(), "relation") {
		t.Error("the panic's message reached the client")
	}
	if !strings.Contains(logs.String(), "relation") || !strings.Contains(logs.String(), p.RequestId) {
		t.Error("the log lacks the panic or its request id")
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		remote, xff, want string
	}{
		{"198.51.100.7:1234", "", "198.51.100.7"},
		{"198.51.100.7:1234", "203.0.113.9", "198.51.100.7"},      // not from a proxy: header ignored
		{"10.0.0.2:1234", "203.0.113.9", "203.0.113.9"},           // from a trusted proxy
		{"10.0.0.2:1234", "1.2.3.4, 203.0.113.9", "203.0.113.9"},  // the client's own claim is ignored
		{"10.0.0.2:1234", "203.0.113.9, 10.0.0.3", "203.0.113.9"}, // two proxies
		{"10.0.0.2:1234", "garbage", "10.0.0.2"},                  // garbled: trust what we saw
		{"[::ffff:10.0.0.2]:1234", "203.0.113.9", "203.0.113.9"},  // IPv4-mapped peer
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIP(r, trusted); got != c.want {
			t.Errorf("clientIP(%s, XFF %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestIPLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newIPLimiter(2, func() time.Time { return now })
	for i := range 2 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, retry := l.allow("a")
	if ok || retry != 30 {
		t.Fatalf("third request: ok=%v retry=%d, want refused with 30 s", ok, retry)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Error("another client shares the budget")
	}
	now = now.Add(30 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Error("the budget did not refill")
	}
	if ok, _ := newIPLimiter(0, time.Now).allow("a"); !ok {
		t.Error("a zero limit refuses")
	}
}

// TestErrorAfterTheAnswerStarted: an error once the status line is out cannot be answered; it is
// logged for what it is, and nothing is written after the answer.
func TestErrorAfterTheAnswerStarted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, msg, level string
		err              error
	}{
		{"the client went away", "client went away", "INFO", &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection reset by peer")}},
		{"the answer could not be encoded", "answer cut short", "ERROR", errors.New("json: unsupported value: NaN")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			rec := httptest.NewRecorder()
			w := &statusWriter{ResponseWriter: rec}
			w.WriteHeader(http.StatusOK)
			s.responseErrorHandler(w, httptest.NewRequest(http.MethodGet, "/auth/profile", nil), tc.err)

			if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
				t.Errorf("after the answer started: %d %q", rec.Code, rec.Body.String())
			}
			if want := "level=" + tc.level + ` msg="` + tc.msg + `"`; !strings.Contains(logs.String(), want) {
				t.Errorf("log %q lacks %s", logs.String(), want)
			}
		})
	}
}
