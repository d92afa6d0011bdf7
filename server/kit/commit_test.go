package kit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// faultMode is what the proxy does to the answer of the COMMIT it is armed for.
type faultMode int

const (
	// stallReply forwards the COMMIT (the database commits) and holds its answer until released
	// or until the client hangs up.
	stallReply faultMode = iota + 1
	// cutAfterCommit forwards the COMMIT, waits for the database's answer (it committed), drops
	// it and cuts the connection: the client never learns the outcome.
	cutAfterCommit
	// dropCommit never forwards the COMMIT and cuts the connection: the client cannot tell, and
	// the database rolls the transaction back.
	dropCommit
)

// faultProxy is a TCP proxy in front of PostgreSQL that reads the frontend side of the wire
// protocol (v3: a length-prefixed startup, then type byte + length messages) and, once armed,
// faults the first COMMIT sent in a transaction that ran a statement containing marker. pgx sends
// COMMIT as a simple Query ('Q') message, the text "commit"; kit sends its own (TxCommit) as a
// prepared statement, pipelined after the outbox's row (kit.SendWithCommit): a Bind ('B') of the
// statement a Parse ('P') on the same connection prepared.
type faultProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	marker []byte

	mu      sync.Mutex
	mode    faultMode
	hit     chan struct{} // closed when the armed fault fires (the COMMIT reached the database)
	release chan struct{} // closed to let a stalled answer through
}

func newFaultProxy(t *testing.T, target, marker string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, marker: []byte(marker)}
	t.Cleanup(func() { _ = ln.Close() })
	go p.serve()
	return p
}

// arm makes the next matching COMMIT fault in mode; hit is closed when it does.
func (p *faultProxy) arm(mode faultMode) (hit, release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.hit, p.release = mode, make(chan struct{}), make(chan struct{})
	return p.hit, p.release
}

// take disarms the proxy and returns what it was armed for (0 when it was not).
func (p *faultProxy) take() (faultMode, chan struct{}, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.mode
	p.mode = 0
	return m, p.hit, p.release
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		go p.pipe(c, s)
	}
}

// conn is one proxied connection's fault state, set by the client side before it forwards the
// COMMIT, so that the server side sees it before the COMMIT's answer arrives.
type conn struct {
	mu      sync.Mutex
	mode    faultMode
	hit     chan struct{}
	release chan struct{}
}

func (p *faultProxy) pipe(client, srv net.Conn) {
	st := &conn{}
	closeBoth := func() { _ = client.Close(); _ = srv.Close() }
	clientGone := make(chan struct{})
	go func() { // server → client
		buf := make([]byte, 32<<10)
		for {
			n, err := srv.Read(buf)
			if n > 0 {
				st.mu.Lock()
				mode, hit, release := st.mode, st.hit, st.release
				if bytes.Contains(buf[:n], commitTag) { // other answers of a pipeline may come first
					st.mode = 0
				} else {
					mode = 0
				}
				st.mu.Unlock()
				switch mode {
				case cutAfterCommit: // the database answered the COMMIT: it committed; drop it
					close(hit)
					closeBoth()
					return
				case stallReply:
					close(hit)
					select {
					case <-release:
					case <-clientGone:
						closeBoth()
						return
					}
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					closeBoth()
					return
				}
			}
			if err != nil {
				closeBoth()
				return
			}
		}
	}()
	defer close(clientGone)
	defer closeBoth()
	r := &wireReader{r: client}
	// Startup: untyped messages until the startup packet itself (an SSLRequest first gets the
	// server's one-byte 'N', which the other direction forwards).
	for {
		msg, code, err := r.untyped()
		if err != nil {
			return
		}
		if _, err := srv.Write(msg); err != nil {
			return
		}
		if code == 196608 { // protocol 3.0
			break
		}
	}
	marked := false
	commits := map[string]bool{} // the names of the statements TxCommit was prepared as
	for {
		typ, msg, err := r.typed()
		if err != nil {
			return
		}
		body := msg[5:]
		if typ == 'P' { // a statement name, the unnamed one included, may be prepared again
			commits[cstring(body)] = bytes.Contains(body, []byte("-- name: TxCommit "))
		}
		switch {
		case (typ == 'Q' || typ == 'P') && bytes.Contains(body, p.marker):
			marked = true
		case typ == 'Q' && isCommit(body), typ == 'B' && commits[cstring(body[len(cstring(body))+1:])]:
			if marked {
				if mode, hit, release := p.take(); mode == dropCommit {
					close(hit)
					return // the deferred closeBoth: the database sees a client gone mid-transaction
				} else if mode != 0 {
					st.mu.Lock()
					st.mode, st.hit, st.release = mode, hit, release
					st.mu.Unlock()
				}
			}
			marked = false
		case typ == 'Q' && strings.EqualFold(strings.TrimRight(string(body), "\x00; "), "rollback"):
			marked = false
		}
		if _, err := srv.Write(msg); err != nil {
			return
		}
	}
}

// commitTag is the command tag that answers a COMMIT that committed.
var commitTag = []byte("COMMIT\x00")

// cstring is the NUL-terminated string b begins with (a Parse's statement name; a Bind's portal,
// then its statement's).
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func isCommit(body []byte) bool {
	return strings.EqualFold(strings.TrimRight(string(body), "\x00; \n"), "commit")
}

// wireReader reads frontend messages whole.
type wireReader struct{ r io.Reader }

func (w *wireReader) untyped() (msg []byte, code uint32, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(w.r, hdr[:]); err != nil {
		return nil, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 8 || n > 1<<20 {
		return nil, 0, errors.New("bad startup length")
	}
	msg = make([]byte, n)
	copy(msg, hdr[:])
	_, err = io.ReadFull(w.r, msg[8:])
	return msg, binary.BigEndian.Uint32(hdr[4:]), err
}

func (w *wireReader) typed() (typ byte, msg []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(w.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<30 {
		return 0, nil, errors.New("bad message length")
	}
	msg = make([]byte, 1+n)
	copy(msg, hdr[:])
	_, err = io.ReadFull(w.r, msg[5:])
	return hdr[0], msg, err
}

// faultEnv is a server whose pool reaches its database through a fault proxy.
type faultEnv struct {
	env   *servertest.Env
	proxy *faultProxy
	brand uuid.UUID
	auth  api.RequestEditorFn
	prod  uuid.UUID
	loc   uuid.UUID
}

func newFaultEnv(t *testing.T, db server.DBConfig) *faultEnv {
	t.Helper()
	ctx := context.Background()
	owner := servertest.Database(t)
	u, err := url.Parse(owner)
	if err != nil {
		t.Fatal(err)
	}
	// The statements that move stock are the ones whose COMMIT is faulted.
	proxy := newFaultProxy(t, u.Host, "INSERT INTO stock_movements")
	u.Host = proxy.ln.Addr().String()
	pool, err := server.NewPool(ctx, u.String(), servertest.AppRole, server.WithTimeouts(db.StatementTimeout, db.LockTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	env := servertest.NewOn(t, owner, func(c *server.Config) { c.DB = db; c.Pool = pool })
	o := env.Register(t, servertest.Email("fault"))
	f := &faultEnv{env: env, proxy: proxy, brand: *o.User.BrandId, auth: servertest.Bearer(o.AccessToken)}
	active := api.Active
	pr, err := env.Client.CreateProductWithResponse(ctx, f.brand, api.CreateProductRequest{Sku: "FAULT-1", Name: "Fault", PriceAmount: 100, Status: &active}, f.auth)
	if err != nil || pr.JSON201 == nil {
		t.Fatalf("product: %v", err)
	}
	lr, err := env.Client.CreateLocationWithResponse(ctx, f.brand, api.CreateLocationRequest{Code: "FAULT", Name: "Fault"}, f.auth)
	if err != nil || lr.JSON201 == nil {
		t.Fatalf("location: %v", err)
	}
	f.prod, f.loc = pr.JSON201.Id, lr.JSON201.Id
	return f
}

// receive posts a one-unit receipt (with key when not empty).
func (f *faultEnv) receive(t *testing.T, key string) *api.CreateStockAdjustmentResponse {
	t.Helper()
	params := &api.CreateStockAdjustmentParams{}
	if key != "" {
		params.IdempotencyKey = &key
	}
	resp, err := f.env.Client.CreateStockAdjustmentWithResponse(context.Background(), f.brand, params, api.StockAdjustmentRequest{
		Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: f.prod, LocationId: f.loc, Delta: 1}},
	}, f.auth)
	if err != nil {
		t.Fatalf("receipt: %v", err)
	}
	return resp
}

func (f *faultEnv) onHand(t *testing.T) int64 {
	t.Helper()
	resp, err := f.env.Client.ListStockLevelsWithResponse(context.Background(), f.brand, &api.ListStockLevelsParams{ProductId: &f.prod, LocationId: &f.loc}, f.auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("levels: %v", err)
	}
	var n int64
	for _, l := range resp.JSON200.Items {
		n += l.OnHand
	}
	return n
}

// fired fails the test when the armed fault has not fired (it fires before the server can see
// the failure, so by the time the answer is here it has, or never will).
func fired(t *testing.T, hit chan struct{}) {
	t.Helper()
	select {
	case <-hit:
	default:
		t.Fatal("the proxy's fault never fired: no faulted COMMIT")
	}
}

func problemCode(body []byte) string {
	var p struct{ Code string }
	_ = json.Unmarshal(body, &p)
	return p.Code
}

// TestCommitOutcome puts a fault-injecting TCP proxy between the server and PostgreSQL, which
// acts on the COMMIT of a receipt after the database received it (so the receipt is applied in
// every case), and checks the answer tells the truth: before the fix, a request deadline that
// fired during COMMIT answered 503 database_timeout, and a connection lost after COMMIT 503
// database_unavailable, both promising that nothing was written.
func TestCommitOutcome(t *testing.T) {
	t.Parallel()

	t.Run("request deadline during COMMIT does not cut it", func(t *testing.T) {
		t.Parallel()
		cfg := server.DefaultDBConfig()
		cfg.RequestTimeout = 3 * time.Second
		cfg.CommitTimeout = time.Minute
		f := newFaultEnv(t, cfg)
		hit, release := f.proxy.arm(stallReply)
		start := time.Now()
		go func() {
			// The COMMIT's answer is held until the request's deadline has passed (the event
			// under test is that deadline; a loaded machine only makes the hold longer).
			<-hit
			<-time.After(time.Until(start.Add(cfg.RequestTimeout + 100*time.Millisecond)))
			close(release)
		}()
		resp := f.receive(t, "")
		if resp.StatusCode() != http.StatusCreated {
			t.Errorf("receipt whose COMMIT outlived the request deadline answered %d %s, want 201 (it was applied)", resp.StatusCode(), resp.Body)
		}
		if got := f.onHand(t); got != 1 {
			t.Errorf("onHand %d, want 1", got)
		}
	})

	t.Run("connection lost after COMMIT", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t, server.DefaultDBConfig())
		hit, _ := f.proxy.arm(cutAfterCommit)
		resp := f.receive(t, "")
		fired(t, hit)
		if resp.StatusCode() != http.StatusServiceUnavailable || problemCode(resp.Body) != string(api.ProblemCodeOutcomeUnknown) ||
			resp.HTTPResponse.Header.Get("Retry-After") == "" {
			t.Errorf("keyless receipt whose COMMIT answer was lost answered %d %s (Retry-After %q), want 503 outcome_unknown with Retry-After",
				resp.StatusCode(), resp.Body, resp.HTTPResponse.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(resp.Body), "Idempotency-Key") {
			t.Errorf("outcome_unknown's detail does not say to retry with the same Idempotency-Key: %s", resp.Body)
		}
		if got := f.onHand(t); got != 1 {
			t.Errorf("onHand %d, want 1 (the COMMIT reached the database)", got)
		}
	})

	t.Run("COMMIT past its own bound", func(t *testing.T) {
		t.Parallel()
		cfg := server.DefaultDBConfig()
		cfg.CommitTimeout = 300 * time.Millisecond
		f := newFaultEnv(t, cfg)
		hit, _ := f.proxy.arm(stallReply) // held until the server hangs up
		resp := f.receive(t, "")
		fired(t, hit)
		if resp.StatusCode() != http.StatusServiceUnavailable || problemCode(resp.Body) != string(api.ProblemCodeOutcomeUnknown) {
			t.Errorf("receipt whose COMMIT got no answer answered %d %s, want 503 outcome_unknown", resp.StatusCode(), resp.Body)
		}
	})

	t.Run("keyed change whose COMMIT answer was lost is settled: it committed", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t, server.DefaultDBConfig())
		hit, _ := f.proxy.arm(cutAfterCommit)
		first := f.receive(t, "fault-retry-1")
		fired(t, hit)
		if first.JSON201 == nil || first.HTTPResponse.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("keyed receipt whose COMMIT answer was lost answered %d %s (replayed %q), want its own 201 (the database committed it)",
				first.StatusCode(), first.Body, first.HTTPResponse.Header.Get("Idempotent-Replayed"))
		}
		again := f.receive(t, "fault-retry-1")
		if again.JSON201 == nil || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry with the key answered %d %s (replayed %q), want the stored 201", again.StatusCode(), again.Body,
				again.HTTPResponse.Header.Get("Idempotent-Replayed"))
		}
		if first.JSON201 != nil && again.JSON201 != nil && first.JSON201.MovementIds[0] != again.JSON201.MovementIds[0] {
			t.Errorf("the retry answered movement %s, the first %s: two receipts", again.JSON201.MovementIds[0], first.JSON201.MovementIds[0])
		}
		if got := f.onHand(t); got != 1 {
			t.Errorf("onHand %d after the retry, want 1 (applied once)", got)
		}
	})

	t.Run("keyed change whose COMMIT never arrived is settled: it runs again, once", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t, server.DefaultDBConfig())
		hit, _ := f.proxy.arm(dropCommit)
		first := f.receive(t, "fault-drop-1")
		fired(t, hit)
		if first.JSON201 == nil {
			t.Fatalf("keyed receipt whose COMMIT was lost before the database answered %d %s, want 201 (settled as not written, run again)",
				first.StatusCode(), first.Body)
		}
		if got := f.onHand(t); got != 1 {
			t.Errorf("onHand %d, want 1 (the lost transaction rolled back, the second committed)", got)
		}
	})

	t.Run("keyless change whose COMMIT never arrived stays unknown", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t, server.DefaultDBConfig())
		hit, _ := f.proxy.arm(dropCommit)
		resp := f.receive(t, "")
		fired(t, hit)
		if resp.StatusCode() != http.StatusServiceUnavailable || problemCode(resp.Body) != string(api.ProblemCodeOutcomeUnknown) {
			t.Errorf("keyless receipt answered %d %s, want 503 outcome_unknown", resp.StatusCode(), resp.Body)
		}
		if got := f.onHand(t); got != 0 {
			t.Errorf("onHand %d, want 0 (rolled back)", got)
		}
	})
}
