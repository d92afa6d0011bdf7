// Package idempotency makes retries of the operations that declare `x-idempotency` in
// openapi.yaml safe, as draft-ietf-httpapi-idempotency-key-header-07 describes: the first answer
// to an Idempotency-Key is stored in the same transaction as the operation's effects, and a retry
// with the same key and the same request gets that answer again without running anything.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Header is the request header that carries the key; ReplayedHeader marks a stored answer.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// DefaultTTL is how long a key is kept unless IDEMPOTENCY_KEY_TTL says otherwise.
const DefaultTTL = 24 * time.Hour

// inFlightRetryAfter is the Retry-After of a 409 idempotency_key_in_flight.
const inFlightRetryAfter = time.Second

// storedHeaders are the response headers a replay repeats.
var storedHeaders = []string{"Content-Type", "Location", "ETag"}

// Mode is an operation's `x-idempotency` in openapi.yaml.
type Mode string

// The modes: a key is optional (a request without one simply runs), or required (a request
// without one is a 400 idempotency_key_required, before anything runs).
const (
	Optional Mode = "optional"
	Required Mode = "required"
)

// Bounds limit what refused answers (4xx) may take in the store. A success is always stored: it is
// the outcome a retry must get back, and the operation's own limits bound its size. A refusal
// wrote nothing, so not storing one is safe: the retry simply runs again, as a request without a
// key would (and is refused again, or succeeds if the state has changed since).
type Bounds struct {
	// MaxRefusedBytes is the largest refused answer body stored (default 16 KiB): one refused
	// 1,000-line adjustment stored 154 KB.
	MaxRefusedBytes int
	// MaxRefusedPerBrand is how many live refused answers one brand may hold (default 1,000); past
	// it, refused answers are not stored until older ones expire. Concurrent refusals of one brand
	// may each see room for one more, so it can be passed by at most the brand's concurrent
	// requests (its pool share).
	MaxRefusedPerBrand int
}

// Defaults for Bounds left zero.
const (
	DefaultMaxRefusedBytes    = 16 << 10
	DefaultMaxRefusedPerBrand = 1000
)

// Store keeps the first answers to keys.
type Store struct {
	d      *kit.Deps
	ttl    time.Duration
	ops    map[string]Mode
	bounds Bounds
	// streamed names the keyed operations whose request carries its body as a stream (an upload)
	// that spool hashes: decided once here, from the generated signatures, not per request.
	streamed map[string]bool
}

// Bounded sets the store's bounds (zero fields take the defaults) and returns it.
func (s *Store) Bounded(b Bounds) *Store {
	if b.MaxRefusedBytes <= 0 {
		b.MaxRefusedBytes = DefaultMaxRefusedBytes
	}
	if b.MaxRefusedPerBrand <= 0 {
		b.MaxRefusedPerBrand = DefaultMaxRefusedPerBrand
	}
	s.bounds = b
	return s
}

// New returns a store for the operations (operationIds, as in openapi.yaml, with their mode) that
// take keys. A mode other than Required counts as Optional.
func New(d *kit.Deps, ttl time.Duration, operations map[string]Mode) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	ops := make(map[string]Mode, len(operations))
	for id, mode := range operations {
		if mode != Required {
			mode = Optional
		}
		ops[strings.ToLower(id)] = mode
	}
	return (&Store{d: d, ttl: ttl, ops: ops, streamed: streamedOperations(ops)}).Bounded(Bounds{})
}

// streamedOperations finds, among ops, the operations whose generated request object has a
// streamed Body (an io.Reader: an upload the fingerprint's JSON cannot see), by the strict
// server interface's method for each operation (its name is the operationId, capitalised).
func streamedOperations(ops map[string]Mode) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[api.StrictServerInterface]()
	for i := range t.NumMethod() {
		m := t.Method(i)
		id := strings.ToLower(m.Name)
		if _, keyed := ops[id]; !keyed || m.Type.NumIn() != 2 {
			continue
		}
		req := m.Type.In(1)
		if req.Kind() != reflect.Struct {
			continue
		}
		if f, ok := req.FieldByName("Body"); ok && f.Type == reflect.TypeFor[io.Reader]() {
			out[id] = true
		}
	}
	return out
}

// ParseKey reads a key: an RFC 8941 sf-string (`"…"`) or a bare token as Stripe's clients send
// it, of 1 to 255 visible ASCII characters. The spec's pattern says the same to clients; this is
// what the server relies on.
func ParseKey(raw string) (string, error) {
	key := raw
	if strings.HasPrefix(raw, `"`) {
		if len(raw) < 3 || !strings.HasSuffix(raw, `"`) {
			return "", errors.New("must be a quoted string or a token")
		}
		key = raw[1 : len(raw)-1]
		if strings.ContainsAny(key, `"\`) {
			return "", errors.New("must not contain quotes or backslashes")
		}
	}
	if len(key) < 1 || len(key) > 255 {
		return "", errors.New("must be 1 to 255 characters")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c > 0x7e || (c == ' ' && key == raw) {
			return "", errors.New("must be visible ASCII characters")
		}
	}
	return key, nil
}

var (
	errInFlight = errors.New("idempotency key in flight")
	errReused   = errors.New("idempotency key reused")
	// errNotStored rolls back an answer that is not kept (a 5xx) while still sending it.
	errNotStored = errors.New("answer not stored")
)

// answer is a response as it was written (or will be replayed).
type answer struct {
	Status  int               `json:"-"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"-"`
}

// Middleware runs an operation that takes keys in a transaction of its own, which the handler's
// InTx/InBrand join (kit.WithTx): the key is claimed (an advisory lock: a concurrent request with
// the key gets 409 in flight), looked up (same request: replay; another request: 422), and the
// handler's answer is stored before the one commit. The whole transaction is retried on
// deadlocks like any other.
func (s *Store) Middleware(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	mode, ok := s.ops[strings.ToLower(operationID)]
	if !ok {
		return f
	}
	streamed := s.streamed[strings.ToLower(operationID)]
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, request any) (any, error) {
		raw := r.Header.Get(Header)
		if raw == "" && mode == Required {
			// A retry of a request without a key could do it twice (two orders): refuse it.
			return nil, problem.Refuse(api.ProblemCodeIdempotencyKeyRequired,
				"This operation needs an Idempotency-Key header, so that a retry cannot do it twice.")
		}
		caller := kit.CallerFrom(ctx)
		if raw == "" || caller == nil {
			return f(ctx, w, r, request)
		}
		key, err := ParseKey(raw)
		if err != nil {
			return nil, problem.RefuseField("header."+Header, err.Error())
		}
		var bodySum []byte
		if streamed {
			var cleanup func()
			request, bodySum, cleanup, err = spool(request)
			defer cleanup()
			if err != nil {
				return nil, err
			}
		}
		fingerprint, err := fingerprintOf(r, request)
		if err != nil {
			return nil, err
		}
		fingerprint = append(fingerprint, bodySum...)
		// The brand's share of the pool is taken before the transaction takes a connection: the
		// handler's InBrand joins the transaction and does not take it again.
		var brandID *uuid.UUID
		if brand, err := uuid.Parse(chi.URLParam(r, "brandId")); err == nil {
			brandID = &brand
			release, err := s.d.GateBrand(ctx, brand)
			if err != nil {
				return nil, err
			}
			defer release()
		}
		var got answer
		lockKey := caller.User.ID.String() + "\n" + operationID + "\n" + key
		attempt := func() error {
			got = answer{}
			// The answer commits with the effects, by kit's Commit: a request deadline cannot cut
			// the COMMIT, and one whose outcome is unknown is never stored nor retried blindly:
			// settle (below) learns it, or the client's retry with the key does.
			return s.d.BeginFunc(ctx, func(tx pgx.Tx) error {
				q := s.d.Queries.WithTx(tx)
				// Newlines separate the parts: neither a key nor an operation id can hold one (a
				// NUL cannot travel in PostgreSQL text: every keyed request was a 500).
				locked, err := q.IdempotencyLock(ctx, lockKey)
				if err != nil {
					return err
				}
				if !locked {
					return errInFlight
				}
				now := s.d.Now()
				stored, err := q.IdempotencyGet(ctx, db.IdempotencyGetParams{UserID: caller.User.ID, Operation: operationID, Key: key, Now: now})
				if err == nil {
					if !bytes.Equal(stored.Fingerprint, fingerprint) {
						return errReused
					}
					got = answer{Status: int(stored.Status), Body: stored.Body}
					if err := json.Unmarshal(stored.Headers, &got.Headers); err != nil {
						return fmt.Errorf("stored answer headers: %w", err)
					}
					got.Headers[ReplayedHeader] = "true"
					return nil
				}
				if !kit.NoRows(err) {
					return err
				}
				// A refusal is an answer like any other: stored, and replayed to a retry. (The
				// handler's own writes ran in a savepoint its refusal rolled back.)
				resp, err := f(kit.WithTx(ctx, tx), w, r, request)
				if err != nil {
					if got, err = recordRefusal(r, err); err != nil {
						return err
					}
				} else if got, err = record(resp, operationID); err != nil {
					return err
				}
				if got.Status >= 500 {
					return errNotStored
				}
				if got.Status >= 400 && len(got.Body) > s.bounds.MaxRefusedBytes {
					return nil // committed unstored: exactly what a request without a key does
				}
				headers, err := json.Marshal(got.Headers)
				if err != nil {
					return err
				}
				// A refusal past the brand's MaxRefusedPerBrand is not stored (0 rows), and the
				// transaction commits as a request without a key would. Nothing waits for the
				// count: the statement travels with the COMMIT (kit.SendWithCommit), one round
				// trip fewer while the handler's locks are held.
				_, err = q.IdempotencyPut(kit.SendWithCommit(ctx), db.IdempotencyPutParams{
					UserID: caller.User.ID, Operation: operationID, Key: key, Fingerprint: fingerprint,
					Status: int32(got.Status), Headers: headers, Body: got.Body, Now: now, ExpiresAt: now.Add(s.ttl), //nolint:gosec // an HTTP status
					BrandID: brandID, MaxRefused: int32(min(s.bounds.MaxRefusedPerBrand, math.MaxInt32)), //nolint:gosec // bounded
				})
				return err
			})
		}
		err = s.d.Retry(ctx, attempt)
		if unknown := (*kit.OutcomeUnknownError)(nil); errors.As(err, &unknown) {
			var settled *answer
			if settled, err = s.settle(ctx, lockKey, caller.User.ID, operationID, key, unknown); err == nil {
				if settled != nil {
					got = *settled
				} else {
					err = s.d.Retry(ctx, attempt) // nothing was written: the request runs again
				}
			}
		}
		switch {
		case errors.Is(err, errInFlight):
			return nil, &problem.Error{Code: api.ProblemCodeIdempotencyKeyInFlight, RetryAfter: inFlightRetryAfter,
				Detail: "A request with this Idempotency-Key is still running; retry it shortly."}
		case errors.Is(err, errReused):
			return nil, problem.Refuse(api.ProblemCodeIdempotencyKeyReused, "This Idempotency-Key was used for another request; use a new key.")
		case err != nil && !errors.Is(err, errNotStored):
			return nil, err
		}
		if got.Headers[ReplayedHeader] == "true" {
			observe.IdempotentReplay()
		}
		for k, v := range got.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(got.Status)
		_, _ = w.Write(got.Body)
		return nil, nil
	}
}

// settleBound bounds how long a keyed request whose COMMIT got no answer waits for the database
// to tell what became of it: a connection cut on a healthy database settles at once; a failover
// takes longer than a client should wait, and is answered outcome_unknown (503, Retry-After).
const settleBound = 3 * time.Second

// settle learns what became of a keyed change whose COMMIT got no answer. The key's advisory
// lock is held by that transaction until it has ended, committed (and, under synchronous
// replication, acknowledged by the standby) or rolled back; once a new transaction holds the lock,
// the stored answer tells which: there, it committed, and its answer is the request's (a nil
// error and the answer); absent, nothing was written (nil, nil: the caller runs the request again).
// After a failover the new primary answers for its own timeline: a change the old primary
// committed but never replicated was never acknowledged, so running it again is right. When the
// database does not answer within settleBound, the outcome stays unknown.
func (s *Store) settle(ctx context.Context, lockKey string, user uuid.UUID, operationID, key string, unknown error) (*answer, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleBound)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		var found *answer
		err := s.d.BeginFunc(sctx, func(tx pgx.Tx) error {
			q := s.d.Queries.WithTx(tx)
			locked, err := q.IdempotencyLock(sctx, lockKey)
			if err != nil {
				return err
			}
			if !locked {
				return errInFlight // the COMMIT is still running on a connection we lost
			}
			stored, err := q.IdempotencyGet(sctx, db.IdempotencyGetParams{UserID: user, Operation: operationID, Key: key, Now: s.d.Now()})
			if kit.NoRows(err) {
				return nil
			}
			if err != nil {
				return err
			}
			found = &answer{Status: int(stored.Status), Body: stored.Body}
			return json.Unmarshal(stored.Headers, &found.Headers)
		})
		if err == nil {
			return found, nil
		}
		select {
		case <-sctx.Done():
			return nil, unknown
		case <-time.After(wait):
		}
	}
}

// fingerprintOf identifies a request: its method and path, and its decoded parameters and body
// (so a retry that re-encodes the same JSON differently is still the same request). The key's own
// header is left out: `"k"` and `k` are one key, and must not make two requests.
func fingerprintOf(r *http.Request, request any) ([]byte, error) {
	encoded, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(encoded))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if params, ok := fields["Params"].(map[string]any); ok {
		delete(params, Header)
	}
	decoded, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + canonicalPath(r.URL.Path) + "\n"))
	h.Write(decoded)
	return h.Sum(nil), nil
}

// spool reads a streamed request body (a CSV upload: the generated request's Body io.Reader,
// which the fingerprint's JSON cannot see) to a temporary file, hashing it on the way, and hands
// the handler the file instead: a retry with another file under the same key is then a 422, and
// the body is never held in memory. Only streamedOperations' requests come here.
func spool(request any) (out any, sum []byte, cleanup func(), err error) {
	cleanup = func() {}
	v := reflect.ValueOf(request)
	if v.Kind() != reflect.Struct {
		return request, nil, cleanup, nil
	}
	body := v.FieldByName("Body")
	if !body.IsValid() || body.Type() != reflect.TypeFor[io.Reader]() || body.IsNil() {
		return request, nil, cleanup, nil // no body (an action), or a decoded one the fingerprint sees
	}
	reader := body.Interface().(io.Reader)
	f, err := os.CreateTemp("", "ecompointer-upload-*")
	if err != nil {
		return request, nil, cleanup, err
	}
	cleanup = func() { _ = f.Close(); _ = os.Remove(f.Name()) }
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), reader); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return request, nil, cleanup, problem.Refuse(api.ProblemCodePayloadTooLarge, fmt.Sprintf("The body is over the limit of %d bytes.", tooLarge.Limit))
		}
		return request, nil, cleanup, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return request, nil, cleanup, err
	}
	copied := reflect.New(v.Type()).Elem()
	copied.Set(v)
	copied.FieldByName("Body").Set(reflect.ValueOf(io.Reader(f)))
	return copied.Interface(), h.Sum(nil), cleanup, nil
}

// canonicalPath writes the UUIDs of a path as uuid.UUID.String() does (lower case): the server
// reads them case-insensitively, so `/brands/ABC…` and `/brands/abc…` are one resource, and a
// retry that spells an id in upper case is the same request, not a reused key.
func canonicalPath(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		if len(seg) == 36 {
			if id, err := uuid.Parse(seg); err == nil {
				segments[i] = id.String()
			}
		}
	}
	return strings.Join(segments, "/")
}

// record writes resp as the generated code would (its Visit<Operation>Response method) and keeps
// what was written.
func record(resp any, operationID string) (answer, error) {
	rec := httptest.NewRecorder()
	visit := reflect.ValueOf(resp).MethodByName("Visit" + operationID + "Response")
	if !visit.IsValid() {
		return answer{}, fmt.Errorf("idempotency: %T has no Visit%sResponse", resp, operationID)
	}
	if out := visit.Call([]reflect.Value{reflect.ValueOf(http.ResponseWriter(rec))}); !out[0].IsNil() {
		return answer{}, out[0].Interface().(error) //nolint:forcetypeassert // Visit methods return error
	}
	return recorded(rec), nil
}

// recordRefusal writes err as the strict server's error handler would, when it is a refusal, and
// keeps what was written; any other err is returned as it is.
func recordRefusal(r *http.Request, err error) (answer, error) {
	rec := httptest.NewRecorder()
	if !problem.Answer(rec, r, err) {
		return answer{}, err
	}
	return recorded(rec), nil
}

func recorded(rec *httptest.ResponseRecorder) answer {
	a := answer{Status: rec.Code, Body: rec.Body.Bytes(), Headers: map[string]string{}}
	for _, h := range storedHeaders {
		if v := rec.Header().Get(h); v != "" {
			a.Headers[h] = v
		}
	}
	return a
}

// Prune deletes expired keys.
func Prune(ctx context.Context, d *kit.Deps) (int64, error) {
	return d.Queries.IdempotencyPrune(ctx, d.Now())
}

// RunPruner prunes expired keys every interval until ctx ends.
func RunPruner(ctx context.Context, d *kit.Deps, interval time.Duration) {
	kit.Periodically(ctx, d, "idempotency_keys", interval, func(ctx context.Context) (int64, error) { return Prune(ctx, d) })
}
