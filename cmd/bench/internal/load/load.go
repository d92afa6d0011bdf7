// Package load drives an HTTP server with a fixed number of keep-alive connections, each used by
// one closed-loop virtual client (it sends its next request when the previous answer is in), and
// reports throughput, latency and errors.
//
// Closed loop rather than a fixed arrival rate: the question the harness asks is how much the
// server can do, and a closed loop finds that without guessing a rate first.
package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Request is what a virtual client sends.
type Request struct {
	Method string
	// Path is appended to the base URL (with its query, if any).
	Path string
	// Bearer, when set, is sent as `Authorization: Bearer <Bearer>`.
	Bearer string
	// Body, when set, is sent as application/json (or as ContentType).
	Body []byte
	// ContentType, when set, is the body's media type instead of application/json (a CSV file).
	ContentType string
	// IdempotencyKey, when set, is sent as the Idempotency-Key header (placing an order needs one).
	IdempotencyKey string
	// Expect, when set, is this request's successful status (a scenario that alternates
	// requests: POST 201, then DELETE 204); zero: the run's.
	Expect int
	// Refusal, when set, is a status this request may rightly get (a 422 when the stock ran
	// out): counted in Result.Refused, neither a success nor an error.
	Refusal int
}

// Client is one virtual client's script.
type Client interface {
	// Next says what to send.
	Next() Request
	// Done is told how the request ended: its status and body, or the transport error. The body
	// is only valid during the call. A non-nil return counts the answer as an error even when it
	// has the expected status (say, a body that cannot be decoded).
	Done(status int, body []byte, err error) error
}

// Func is a Client without state: every request comes from next, and answers teach it nothing.
type Func func() Request

// Next calls f.
func (f Func) Next() Request { return f() }

// Done does nothing.
func (Func) Done(int, []byte, error) error { return nil }

// Config is one run.
type Config struct {
	// BaseURL is the server, like http://127.0.0.1:3000.
	BaseURL string
	// Connections is the number of virtual clients, each with its own connection.
	Connections int
	// Duration is how long new requests are started. Requests in flight when it ends are waited
	// for and counted: for slow endpoints (bcrypt at cost 12 under 256 connections takes tens of
	// seconds per request) cutting them off would count nothing at all.
	Duration time.Duration
	// Expect is the status of a successful answer (200 when zero).
	Expect int
	// Timeout bounds one request (60 s when zero); a request cut off by it is an error.
	Timeout time.Duration
	// NewClient returns the i-th of Connections virtual clients.
	NewClient func(i int) Client
}

// Result is what a run measured.
type Result struct {
	Connections int
	// OK counts answers with the expected status; Errors everything else (other statuses,
	// transport errors, bodies a client refused).
	OK, Errors int
	// Refused counts answers with the request's expected refusal status (Request.Refusal).
	Refused int
	// ErrorKinds counts errors by kind ("HTTP 401", "EOF", ...).
	ErrorKinds map[string]int
	// Elapsed is from the first request to the last answer.
	Elapsed time.Duration
	// Latency summarises every request that got an answer or an error.
	Latency Summary
}

// Rate is successful answers per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Run drives the server with cfg until cfg.Duration has passed and every request in flight has
// ended. Only a cancelled ctx stops it early (its error is returned).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Connections < 1 || cfg.Duration <= 0 || cfg.NewClient == nil {
		return Result{}, errors.New("load: need Connections ≥ 1, a Duration and NewClient")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Result{}, fmt.Errorf("load: base URL %q: want http://host:port", cfg.BaseURL)
	}
	expect := cfg.Expect
	if expect == 0 {
		expect = http.StatusOK
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	n := cfg.Connections
	workers := make([]worker, n)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.client = cfg.NewClient(i)
		w.expect = expect
		w.conn = &conn{addr: u.Host, prefix: u.Path, timeout: timeout}
		w.latencies = make([]time.Duration, 0, 1024)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.conn.shutdown()
			// A cancelled run must not wait for answers: closing the connection ends the read.
			stop := context.AfterFunc(ctx, w.conn.shutdown)
			defer stop()
			w.loop(ctx, deadline)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{Connections: n, ErrorKinds: map[string]int{}}
	var all []time.Duration
	last := start
	for i := range workers {
		w := &workers[i]
		res.OK += w.ok
		res.Errors += w.errors
		res.Refused += w.refused
		for k, v := range w.kinds {
			res.ErrorKinds[k] += v
		}
		all = append(all, w.latencies...)
		if w.last.After(last) {
			last = w.last
		}
	}
	res.Elapsed = last.Sub(start)
	res.Latency = Summarize(all)
	return res, nil
}

// worker is one virtual client's loop and what it measured; nothing is shared until the end.
type worker struct {
	client    Client
	conn      *conn
	expect    int
	latencies []time.Duration
	ok        int
	errors    int
	refused   int
	kinds     map[string]int
	last      time.Time
	body      bytes.Buffer
}

func (w *worker) loop(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		req := w.client.Next()
		began := time.Now()
		status, err := w.conn.roundTrip(req, &w.body)
		end := time.Now()
		if ctx.Err() != nil {
			return // cancelled: nothing measured now means anything
		}
		w.latencies = append(w.latencies, end.Sub(began))
		w.last = end
		derr := w.client.Done(status, w.body.Bytes(), err)
		expect := w.expect
		if req.Expect != 0 {
			expect = req.Expect
		}
		switch {
		case err != nil:
			w.fail(kindOf(err))
		case req.Refusal != 0 && status == req.Refusal && derr == nil:
			w.refused++
		case status != expect:
			w.fail("HTTP " + strconv.Itoa(status))
		case derr != nil:
			w.fail(derr.Error())
		default:
			w.ok++
		}
	}
}

func (w *worker) fail(kind string) {
	if w.kinds == nil {
		w.kinds = map[string]int{}
	}
	w.errors++
	w.kinds[kind]++
}

// conn is one virtual client's keep-alive connection. It writes requests itself and reads
// answers with net/http's parser: net/http's Transport hands each request between goroutines
// (a read loop and a write loop per connection), which on this 2-core machine cost the load
// generator as much CPU per request as the server's bare router does, CPU the server then lacks.
type conn struct {
	addr    string // host:port
	prefix  string // the base URL's path
	timeout time.Duration

	mu     sync.Mutex // guards nc against close from the cancelling goroutine
	nc     net.Conn
	closed bool
	br     *bufio.Reader
	wbuf   []byte
}

// roundTrip sends req and reads the whole answer into body, dialling first when the connection
// is new or was closed. A failed exchange closes the connection: its state is unknown.
func (c *conn) roundTrip(req Request, body *bytes.Buffer) (int, error) {
	body.Reset()
	nc, err := c.get()
	if err != nil {
		return 0, err
	}
	_ = nc.SetDeadline(time.Now().Add(c.timeout))
	c.wbuf = appendRequest(c.wbuf[:0], c.addr, c.prefix, req)
	if _, err := nc.Write(c.wbuf); err != nil {
		c.close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, err
	}
	_, err = body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, err
}

func (c *conn) get() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, net.ErrClosed
	}
	if c.nc != nil {
		return c.nc, nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.nc = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
	}
	return nc, nil
}

// close drops the connection; the next request dials again.
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
}

// shutdown drops the connection for good: the run is over or cancelled.
func (c *conn) shutdown() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.close()
}

// appendRequest writes req as HTTP/1.1 (keep-alive is HTTP/1.1's default).
func appendRequest(b []byte, host, prefix string, req Request) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, prefix...)
	b = append(b, req.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: ecompointer-bench\r\n"...)
	if req.Bearer != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, req.Bearer...)
		b = append(b, "\r\n"...)
	}
	if req.IdempotencyKey != "" {
		b = append(b, "Idempotency-Key: "...)
		b = append(b, req.IdempotencyKey...)
		b = append(b, "\r\n"...)
	}
	if req.Body != nil {
		ct := req.ContentType
		if ct == "" {
			ct = "application/json"
		}
		b = append(b, "Content-Type: "...)
		b = append(b, ct...)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
		b = append(b, "\r\n\r\n"...)
		return append(b, req.Body...)
	}
	return append(b, "\r\n"...)
}

// kindOf names a transport error without its addresses (ports differ per connection), so that
// errors group by cause: "read: connection reset by peer", "EOF".
func kindOf(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// Summary is a latency distribution.
type Summary struct {
	Count                    int
	Mean, P50, P90, P99, Max time.Duration
}

// Summarize sorts d (in place) and reads its percentiles (nearest rank).
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return Summary{
		Count: len(d),
		Mean:  sum / time.Duration(len(d)),
		P50:   rank(0.50),
		P90:   rank(0.90),
		P99:   rank(0.99),
		Max:   d[len(d)-1],
	}
}
