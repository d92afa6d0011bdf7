// Package sessioncache answers the per-request session check (is this access token's session
// live, and who is its user) from memory, and learns of every change through PostgreSQL
// LISTEN/NOTIFY.
//
// The promise: a change committed by any instance (a revocation, a disabled user, a new role) is
// seen by every instance within 100 ms. Triggers (schema/000008_session_notify.up.sql) announce
// each change on the channel `ecompointer_auth` in the changing transaction, so a rolled-back
// change announces nothing and no code path can forget to. One dedicated connection per instance
// listens; while it is down or reconnecting the cache is not trusted: every request is checked
// against the database, as with the cache off, and everything cached is dropped once the
// connection listens again (what changed meanwhile was never announced to it).
//
// A listening connection can also go silent without failing (its backend stopped, a network black
// hole): nothing arrives, nothing errs. So the cache proves its listener alive: every
// heartbeatInterval it notifies a channel of its own, from a second connection, and the listener
// listens to that channel too. PostgreSQL delivers a backend's notifications in commit order, so a
// heartbeat received that was sent at time S means every change committed before S has been
// applied. Each request trusts the cache only if the newest heartbeat received was sent less than
// heartbeatLate ago (checked on the request's own path, by the monotonic clock: a busy machine
// that delays the listener makes the cache refuse sooner, never later). Hence the bound: a change
// is refused everywhere at most heartbeatLate after it committed, whatever the connection does.
// A listener silent for heartbeatDead is replaced by a new connection. TRUNCATE, which no row
// trigger sees, announces 'a' (schema/000009): everything is dropped.
//
// Only positive answers are served from memory: a session that is revoked, expired (by the
// injected clock, on every hit) or whose user's token version or state refuses the token is always
// asked of the database.
//
// Brand API keys are held the same way (schema/000014 announces their changes): a live key under
// the first 16 bytes of its SHA-256 digest, with the user it acts for in the same user entries.
// An unknown key is never cached: each is asked of the database.
package sessioncache

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/db"
)

// Channel is the notification channel the triggers announce changes on.
const Channel = "ecompointer_auth"

// DefaultSize is the default bound of the cache: this many sessions and this many users. A full
// cache holds about 25 MiB of heap (about 150 bytes a session and 370 a user: TestFullCacheMemory
// measures it), which keeps a busy instance well under 100 MiB resident.
const DefaultSize = 50_000

// shards spreads the entries over this many locks, so that requests on many cores do not all
// queue on one mutex.
const shards = 16

const (
	// heartbeatInterval is how often the cache sends itself a heartbeat through the database.
	heartbeatInterval = 250 * time.Millisecond
	// heartbeatLate is how old the newest heartbeat received may be (counted from when it was
	// sent) for the cache to answer from memory. It bounds how long a committed change can go
	// unseen (issue 16: 1 s at worst); it leaves two missed heartbeats of slack, so that an
	// ordinary scheduling delay does not send every request to the database.
	heartbeatLate = 750 * time.Millisecond
	// heartbeatDead is how long the listener may stay silent (or a heartbeat take to send) before
	// its connections are replaced: a stalled connection does not recover on its own. It is well
	// above heartbeatLate, so that a burst of notifications that merely delays the heartbeats
	// does not cost a reconnect, which forgets everything cached.
	heartbeatDead = 3 * time.Second
	// syncTimeout bounds the wait for the listener to see a sync marker; past it the cache drops
	// everything rather than risk answering from before the change.
	syncTimeout = time.Second
	minBackoff  = 10 * time.Millisecond
	maxBackoff  = 2 * time.Second
)

// Config is what a Cache needs.
type Config struct {
	// Queries runs the session check and the sync marker (on the request pool).
	Queries *db.Queries
	// ConnConfig is the dedicated listening connection's configuration (copied on each connect).
	ConnConfig *pgx.ConnConfig
	// Size bounds the cache: at most Size sessions and Size users (DefaultSize when zero).
	Size   int
	Logger *slog.Logger
}

// Cache holds live sessions and their users. A nil *Cache is a cache that is off: Authenticate
// asks the database every time.
type Cache struct {
	queries    *db.Queries
	connConfig *pgx.ConnConfig
	log        *slog.Logger
	size       int
	shards     [shards]shard

	// trusted is true while the listener listens; only then (and while the heartbeat is fresh,
	// see fresh) are entries read or stored.
	trusted atomic.Bool
	// beatChannel is this cache's own heartbeat channel; lastBeat is the send time (by mono) of
	// the newest heartbeat the listener received, or of the moment it began to listen.
	beatChannel string
	lastBeat    atomic.Int64
	// mono is the monotonic clock the heartbeat is measured by (time since the cache was made).
	mono func() time.Duration
	// seq moves on every invalidation. A fill stores its answer only if seq has not moved since it
	// began reading the database: otherwise a change may have been announced (and found nothing to
	// drop) between the read and the store, and the answer would outlive it.
	seq atomic.Uint64

	syncMu  sync.Mutex
	waiters map[string]chan struct{}

	hits, misses, invalidations, connects, stalls, flushes atomic.Uint64
	// listenerPID is the listening connection's backend process id (0 while not connected).
	listenerPID atomic.Uint32

	cancel context.CancelFunc
	done   chan struct{}
}

type shard struct {
	mu       sync.Mutex
	sessions *lru[session]
	users    *lru[db.User]
	keys     *lru[db.ApiKey]
}

type session struct {
	userID    uuid.UUID
	expiresAt time.Time
}

// Stats are the cache's counters, for tests and metrics.
type Stats struct {
	Hits, Misses, Invalidations uint64
	// Connects counts the listening connection's successful LISTENs (1 after start, +1 a reconnect).
	Connects uint64
	// Stalls counts the times the listener was found late: a heartbeat it should have received
	// was not, so the cache stopped answering from memory.
	Stalls uint64
	// Flushes counts the announcements that everything may have changed (a TRUNCATE).
	Flushes uint64
	Trusted bool
	// ListenerPID is the listening connection's backend process id (pg_stat_activity.pid), 0
	// while it is not connected.
	ListenerPID uint32
	// Sessions, Users and Keys are how many entries are held.
	Sessions, Users, Keys int
}

// New returns a cache and starts its listener; Close stops it.
func New(cfg Config) *Cache {
	c := newCache(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.listen(ctx)
	return c
}

// newCache returns a cache that does not listen (so is never trusted on its own).
func newCache(cfg Config) *Cache {
	size := cfg.Size
	if size <= 0 {
		size = DefaultSize
	}
	size = max(size, shards) // one entry a shard at least
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	start := time.Now()
	c := &Cache{
		beatChannel: Channel + "_hb_" + hex.EncodeToString(b[:]),
		mono:        func() time.Duration { return time.Since(start) },
		queries:     cfg.Queries,
		connConfig:  cfg.ConnConfig,
		log:         log,
		size:        size,
		waiters:     make(map[string]chan struct{}),
		done:        make(chan struct{}),
	}
	// The shards' bounds add up to size exactly; each forgets its own least recently used entry.
	for i := range c.shards {
		per := size / shards
		if i < size%shards {
			per++
		}
		c.shards[i].sessions = newLRU[session](per)
		c.shards[i].users = newLRU[db.User](per)
		c.shards[i].keys = newLRU[db.ApiKey](per)
	}
	return c
}

// Close stops the listener and closes its connection.
func (c *Cache) Close() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
}

// Size is the bound on sessions (and on users) held.
func (c *Cache) Size() int { return c.size }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(),
		Connects: c.connects.Load(), Stalls: c.stalls.Load(), Flushes: c.flushes.Load(),
		Trusted: c.fresh(), ListenerPID: c.listenerPID.Load(),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Sessions += sh.sessions.len()
		s.Users += sh.users.len()
		s.Keys += sh.keys.len()
		sh.mu.Unlock()
	}
	return s
}

func (c *Cache) shardOf(id uuid.UUID) *shard { return &c.shards[id[15]%shards] }

// fresh reports whether the cache may answer: the listener listens and has received a heartbeat
// sent less than heartbeatLate ago, so it has applied every change committed before then.
func (c *Cache) fresh() bool {
	return c.trusted.Load() && c.mono()-time.Duration(c.lastBeat.Load()) < heartbeatLate
}

// beat records a heartbeat received that was sent at sent (by mono). Only the listener calls it.
func (c *Cache) beat(sent time.Duration) {
	if int64(sent) > c.lastBeat.Load() {
		c.lastBeat.Store(int64(sent))
	}
}

// Authenticate returns the user of a live session: sessionID belongs to userID and is neither
// revoked nor expired at now. pgx.ErrNoRows means it is not. The caller still checks the user's
// state and token version; a cached answer is only returned when those accept version, so any
// refusal is decided by the database.
func (c *Cache) Authenticate(ctx context.Context, q *db.Queries, sessionID, userID uuid.UUID, version int32, now time.Time) (db.User, error) {
	if c == nil {
		row, err := q.SessionAuthenticate(ctx, db.SessionAuthenticateParams{SessionID: sessionID, UserID: userID, Now: now})
		return row.User, err
	}
	if u, ok := c.lookup(sessionID, userID, version, now); ok {
		c.hits.Add(1)
		return u, nil
	}
	c.misses.Add(1)
	// Read seq before the database: see Cache.seq.
	seq, trusted := c.seq.Load(), c.fresh()
	row, err := c.queries.SessionAuthenticateCached(ctx, db.SessionAuthenticateCachedParams{SessionID: sessionID, UserID: userID, Now: now})
	if err != nil {
		return db.User{}, err
	}
	if trusted {
		c.store(seq, sessionID, row.ExpiresAt, row.User)
	}
	return row.User, nil
}

func (c *Cache) lookup(sessionID, userID uuid.UUID, version int32, now time.Time) (db.User, bool) {
	if !c.fresh() {
		return db.User{}, false
	}
	sh := c.shardOf(sessionID)
	sh.mu.Lock()
	s, ok := sh.sessions.get(sessionID)
	sh.mu.Unlock()
	// Expiry is checked against the clock on every hit: a session that expired is refused even
	// though nothing announced it. Its row may have been extended since (a refresh announces
	// nothing), so the database decides.
	if !ok || s.userID != userID || !now.Before(s.expiresAt) {
		return db.User{}, false
	}
	sh = c.shardOf(userID)
	sh.mu.Lock()
	u, ok := sh.users.get(userID)
	sh.mu.Unlock()
	if !ok || u.Disabled || u.TokenVersion != version {
		return db.User{}, false
	}
	return u, true
}

// KeySlot is where the cache holds a key: the first 16 bytes of its digest, as the trigger of
// schema/000014 names it.
func KeySlot(digest []byte) uuid.UUID {
	var slot uuid.UUID
	copy(slot[:], digest)
	return slot
}

// AuthenticateKey returns the API key whose SHA-256 digest is digest, and the user it acts for.
// pgx.ErrNoRows means there is none. The key may be revoked or expired and its user disabled: the
// caller decides, and only a key that is live at now, whose user is enabled, is answered from
// memory.
func (c *Cache) AuthenticateKey(ctx context.Context, q *db.Queries, digest []byte, now time.Time) (db.ApiKey, db.User, error) {
	if c == nil {
		row, err := q.APIKeyAuthenticate(ctx, digest)
		return row.ApiKey, row.User, err
	}
	if k, u, ok := c.lookupKey(digest, now); ok {
		c.hits.Add(1)
		return k, u, nil
	}
	c.misses.Add(1)
	seq, trusted := c.seq.Load(), c.fresh()
	row, err := c.queries.APIKeyAuthenticate(ctx, digest)
	if err != nil {
		return db.ApiKey{}, db.User{}, err
	}
	if trusted && keyLive(row.ApiKey, now) && !row.User.Disabled {
		c.storeKey(seq, row.ApiKey, row.User)
	}
	return row.ApiKey, row.User, nil
}

// keyLive reports whether k is neither revoked nor expired at now.
func keyLive(k db.ApiKey, now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

func (c *Cache) lookupKey(digest []byte, now time.Time) (db.ApiKey, db.User, bool) {
	if !c.fresh() {
		return db.ApiKey{}, db.User{}, false
	}
	slot := KeySlot(digest)
	sh := c.shardOf(slot)
	sh.mu.Lock()
	k, ok := sh.keys.get(slot)
	sh.mu.Unlock()
	// The whole digest must match, compared in constant time; expiry is checked by the clock on
	// every hit, as for sessions.
	if !ok || subtle.ConstantTimeCompare(k.SecretHash, digest) != 1 || !keyLive(k, now) {
		return db.ApiKey{}, db.User{}, false
	}
	sh = c.shardOf(k.CreatedBy)
	sh.mu.Lock()
	u, ok := sh.users.get(k.CreatedBy)
	sh.mu.Unlock()
	if !ok || u.Disabled {
		return db.ApiKey{}, db.User{}, false
	}
	return k, u, true
}

// storeKey is store for a key: kept only if nothing was invalidated since seq was read.
func (c *Cache) storeKey(seq uint64, k db.ApiKey, u db.User) {
	slot := KeySlot(k.SecretHash)
	sh := c.shardOf(slot)
	sh.mu.Lock()
	if c.seq.Load() == seq && c.trusted.Load() {
		sh.keys.put(slot, k)
	}
	sh.mu.Unlock()
	c.storeUser(seq, u)
}

// KeyUsed records in the cached key that its use at now was written to the database, so that the
// next requests do not write it again (a change of last_used_at alone is not announced).
func (c *Cache) KeyUsed(digest []byte, now time.Time) {
	if c == nil {
		return
	}
	slot := KeySlot(digest)
	sh := c.shardOf(slot)
	sh.mu.Lock()
	if k, ok := sh.keys.get(slot); ok && subtle.ConstantTimeCompare(k.SecretHash, digest) == 1 {
		k.LastUsedAt = &now
		sh.keys.put(slot, k)
	}
	sh.mu.Unlock()
}

// store keeps a database answer read when seq was current, unless anything was invalidated since.
// The check and the store happen under the shard's lock, and invalidate moves seq before it takes
// that lock: either the store sees the new seq, or the invalidation finds the entry to drop.
func (c *Cache) store(seq uint64, sessionID uuid.UUID, expiresAt time.Time, u db.User) {
	sh := c.shardOf(sessionID)
	sh.mu.Lock()
	if c.seq.Load() == seq && c.trusted.Load() {
		sh.sessions.put(sessionID, session{userID: u.ID, expiresAt: expiresAt})
	}
	sh.mu.Unlock()
	c.storeUser(seq, u)
}

// storeUser is store's and storeKey's keeping of the user a session or a key belongs to.
func (c *Cache) storeUser(seq uint64, u db.User) {
	sh := c.shardOf(u.ID)
	sh.mu.Lock()
	if c.seq.Load() == seq && c.trusted.Load() {
		sh.users.put(u.ID, u)
	}
	sh.mu.Unlock()
}

func (c *Cache) dropSession(id uuid.UUID) {
	c.invalidations.Add(1)
	c.seq.Add(1)
	sh := c.shardOf(id)
	sh.mu.Lock()
	sh.sessions.remove(id)
	sh.mu.Unlock()
}

func (c *Cache) dropKey(slot uuid.UUID) {
	c.invalidations.Add(1)
	c.seq.Add(1)
	sh := c.shardOf(slot)
	sh.mu.Lock()
	sh.keys.remove(slot)
	sh.mu.Unlock()
}

func (c *Cache) dropUser(id uuid.UUID) {
	c.invalidations.Add(1)
	c.seq.Add(1)
	sh := c.shardOf(id)
	sh.mu.Lock()
	sh.users.remove(id)
	sh.mu.Unlock()
}

// dropAll forgets everything.
func (c *Cache) dropAll() {
	c.seq.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.sessions.clear()
		sh.users.clear()
		sh.keys.clear()
		sh.mu.Unlock()
	}
}

// distrust stops answering from memory (before anything else) and forgets everything.
func (c *Cache) distrust() {
	c.trusted.Store(false)
	c.dropAll()
}

// Sync returns once the listener has seen every change committed before the call, so that a
// request answered after a change on this instance (a logout, a role change) never meets this
// instance's cache from before it. It sends a marker through the database: notifications arrive in
// commit order. When the marker is not seen in time the cache forgets everything instead.
func (c *Cache) Sync(ctx context.Context) {
	if c == nil || !c.fresh() {
		// Nothing is answered from memory until the listener is back and has cleared it, or has
		// received a heartbeat sent after this change (and so the change itself).
		return
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	seen := make(chan struct{})
	c.syncMu.Lock()
	c.waiters[token] = seen
	c.syncMu.Unlock()
	defer func() {
		c.syncMu.Lock()
		delete(c.waiters, token)
		c.syncMu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	defer cancel()
	if err := c.queries.AuthNotifySync(ctx, "x"+token); err != nil {
		c.log.Warn("session cache: sync marker not sent; dropping the cache", "error", err)
		c.dropAll()
		return
	}
	select {
	case <-seen:
	case <-ctx.Done():
		c.log.Warn("session cache: sync marker not seen in time; dropping the cache")
		c.dropAll()
	}
}

// handle applies one notification.
func (c *Cache) handle(n *pgconn.Notification) {
	payload := n.Payload
	if n.Channel == c.beatChannel {
		sent, err := strconv.ParseInt(payload, 10, 64)
		if err != nil {
			c.log.Warn("session cache: malformed heartbeat; ignored", "payload", payload)
			return
		}
		c.beat(time.Duration(sent))
		return
	}
	if payload == "a" {
		// TRUNCATE sessions, users or api_keys (schema/000009, 000014): any may be gone.
		c.flushes.Add(1)
		c.invalidations.Add(1)
		c.dropAll()
		return
	}
	if len(payload) > 0 && payload[0] == 'x' {
		c.syncMu.Lock()
		if ch, ok := c.waiters[payload[1:]]; ok {
			close(ch)
			delete(c.waiters, payload[1:])
		}
		c.syncMu.Unlock()
		return
	}
	var id uuid.UUID
	var err error
	if len(payload) > 1 {
		id, err = uuid.Parse(payload[1:])
	}
	switch {
	case len(payload) > 1 && err == nil && payload[0] == 's':
		c.dropSession(id)
	case len(payload) > 1 && err == nil && payload[0] == 'u':
		c.dropUser(id)
	case len(payload) > 1 && err == nil && payload[0] == 'k':
		c.dropKey(id)
	default:
		// Not ours to understand (a newer trigger?): forget everything rather than miss a change.
		c.log.Warn("session cache: unknown notification; dropping the cache", "payload", payload)
		c.dropAll()
	}
}

// listen keeps one connection listening, reconnecting with a growing pause while the database is
// away. It trusts the cache only while that connection listens.
func (c *Cache) listen(ctx context.Context) {
	defer close(c.done)
	backoff := minBackoff
	for {
		started := time.Now()
		err := c.listenOnce(ctx)
		c.distrust()
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > maxBackoff {
			backoff = minBackoff
		}
		c.log.Warn("session cache: listening connection lost; checking every request against the database until it is back",
			"error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// listenOnce connects, listens, trusts the (cleared) cache and applies notifications until the
// connection fails, the heartbeat is lost, or ctx ends.
func (c *Cache) listenOnce(ctx context.Context) error {
	conn, err := c.connect(ctx, "ecompointer session cache listener")
	if err != nil {
		return err
	}
	defer closeConn(conn)
	// The heartbeat has a connection of its own: on the request pool it would queue behind
	// requests when the pool is busy, and the cache would be distrusted for no fault of its own.
	beatConn, err := c.connect(ctx, "ecompointer session cache heartbeat")
	if err != nil {
		return err
	}
	defer closeConn(beatConn)
	// LISTEN is a utility statement sqlc cannot describe; the channels are ours.
	for _, ch := range []string{Channel, c.beatChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	// From here every committed change reaches this connection. What changed before it listened
	// was announced to nobody: forget it all, then trust (the cache is empty: as fresh as a
	// heartbeat received now).
	c.dropAll()
	c.listenerPID.Store(conn.PgConn().PID())
	c.lastBeat.Store(int64(c.mono()))
	c.trusted.Store(true)
	c.connects.Add(1)
	defer c.listenerPID.Store(0)

	ctx, cancel := context.WithCancelCause(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		cancel(c.heartbeat(ctx, db.New(beatConn)))
	}()
	// Stop the heartbeat before the connections close (deferred earlier, so run later).
	defer func() {
		cancel(nil)
		<-beating
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		c.handle(n)
	}
}

// errHeartbeatLost ends a listening connection that has received no heartbeat for heartbeatDead.
var errHeartbeatLost = errors.New("no heartbeat received for " + heartbeatDead.String() + ": the listening connection is stalled")

// heartbeat sends the cache's heartbeats until ctx ends, and watches that they arrive: it returns
// an error (which ends the listening connection) when one cannot be sent or the listener has
// received none for heartbeatDead. The lateness that distrusts the cache needs no watcher: each
// request checks it (fresh); this one counts it and replaces the connection.
func (c *Cache) heartbeat(ctx context.Context, q *db.Queries) error {
	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	late := false
	for {
		sent := c.mono()
		sendCtx, cancel := context.WithTimeout(ctx, heartbeatDead)
		err := q.AuthHeartbeat(sendCtx, db.AuthHeartbeatParams{Channel: c.beatChannel, Payload: strconv.FormatInt(int64(sent), 10)})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("heartbeat not sent: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		silent := c.mono() - time.Duration(c.lastBeat.Load())
		switch {
		case silent >= heartbeatDead:
			if !late {
				c.stalls.Add(1)
			}
			c.log.Warn("session cache: listening connection silent; replacing it", "silent", silent.String())
			return errHeartbeatLost
		case silent >= heartbeatLate && !late:
			late = true
			c.stalls.Add(1)
			c.log.Warn("session cache: heartbeat late; checking every request against the database until it arrives",
				"silent", silent.String())
		case silent < heartbeatLate && late:
			late = false
			c.log.Info("session cache: heartbeat on time again; answering from memory")
		}
	}
}

// connect opens one of the cache's own connections.
func (c *Cache) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg := c.connConfig.Copy()
	// Named, so that an operator finds them in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = name
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(connectCtx, cfg)
}

func closeConn(conn *pgx.Conn) {
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(closeCtx)
}
