package sessioncache_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
	"github.com/ecompointer/ecompointer/server/sessioncache"
	"github.com/ecompointer/ecompointer/server/token"
)

// promise is the session cache's: a change committed on one instance is refused by every
// instance this long after.
const promise = 100 * time.Millisecond

// twoInstances starts two servers on one database, as two instances of a deployment.
func twoInstances(t *testing.T, opts ...servertest.Option) (a, b *servertest.Env) {
	t.Helper()
	url := servertest.Database(t)
	a = servertest.NewOn(t, url, opts...)
	b = servertest.NewOn(t, url, opts...)
	for _, env := range []*servertest.Env{a, b} {
		waitTrusted(t, env, 1)
	}
	return a, b
}

// patience bounds every wait for an event of the cache (a listener connected, a storm applied):
// far above what a loaded machine takes, so that only a cache that never gets there fails.
const patience = 2 * time.Minute

// waitTrusted waits until env's cache listens (for the connects-th time at least).
func waitTrusted(t *testing.T, env *servertest.Env, connects uint64) {
	t.Helper()
	waitStats(t, env, fmt.Sprintf("listening (connection %d)", connects), func(s sessioncache.Stats) bool {
		return s.Trusted && s.Connects >= connects
	})
}

func profileStatus(t *testing.T, env *servertest.Env, access string) int {
	t.Helper()
	return env.Profile(t, access).StatusCode()
}

// warm makes env answer access from its cache, and proves it does. A heartbeat that a loaded
// machine delivers late makes the cache answer from the database for a moment (as it must): then
// it tries again once the cache is trusted.
func warm(t *testing.T, env *servertest.Env, access string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		if got := profileStatus(t, env, access); got != http.StatusOK {
			t.Fatalf("profile before = %d", got)
		}
		hits := env.SessionCache.Stats().Hits
		if got := profileStatus(t, env, access); got != http.StatusOK {
			t.Fatalf("profile before = %d", got)
		}
		after := env.SessionCache.Stats()
		if after.Hits > hits {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second request was not answered from the cache: %+v", after)
		}
		waitTrusted(t, env, after.Connects)
	}
}

// refusedWithin checks that b refuses access once the promise has passed since the change.
func refusedWithin(t *testing.T, b *servertest.Env, access string) {
	t.Helper()
	time.Sleep(promise)
	if got := profileStatus(t, b, access); got != http.StatusUnauthorized {
		t.Fatalf("instance B %s after the change: status %d, want 401", promise, got)
	}
}

// TestSessionCacheRevocationAcrossInstances revokes on instance A, in every way a session or a
// user's tokens end, and checks that instance B, whose cache held the session, refuses it 100 ms
// later.
func TestSessionCacheRevocationAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t)
	ctx := context.Background()

	t.Run("logout", func(t *testing.T) {
		owner := a.Register(t, servertest.Email("cache-logout"))
		warm(t, b, owner.AccessToken)
		if r, err := a.Client.LogoutWithResponse(ctx, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("logout: %v %v", err, r.StatusCode())
		}
		refusedWithin(t, b, owner.AccessToken)
		// The instance that logged out refuses at once (its answer waited for its own cache).
		if got := profileStatus(t, a, owner.AccessToken); got != http.StatusUnauthorized {
			t.Fatalf("instance A after its own logout: %d", got)
		}
	})

	t.Run("logout-all", func(t *testing.T) {
		email := servertest.Email("cache-logout-all")
		first := a.Register(t, email)
		second := a.Login(t, email, servertest.Password)
		warm(t, b, second.AccessToken)
		if r, err := a.Client.LogoutAllWithResponse(ctx, servertest.Bearer(first.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("logout-all: %v %v", err, r.StatusCode())
		}
		refusedWithin(t, b, second.AccessToken)
	})

	t.Run("password change", func(t *testing.T) {
		email := servertest.Email("cache-password")
		first := a.Register(t, email)
		second := a.Login(t, email, servertest.Password)
		warm(t, b, second.AccessToken)
		r, err := a.Client.ChangePasswordWithResponse(ctx, api.ChangePasswordJSONRequestBody{
			CurrentPassword: servertest.Password, NewPassword: "another fine test passphrase",
		}, servertest.Bearer(first.AccessToken))
		if err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("change password: %v %v %s", err, r.StatusCode(), r.Body)
		}
		refusedWithin(t, b, second.AccessToken)
	})

	t.Run("admin disable", func(t *testing.T) {
		admin := a.Admin(t)
		owner := a.Register(t, servertest.Email("cache-disable"))
		user := a.Member(t, owner, api.InvitationRoleSTAFF)
		warm(t, b, user.AccessToken)
		disabled := true
		r, err := a.Client.AdminUpdateUserWithResponse(ctx, user.User.Id, api.AdminUpdateUserJSONRequestBody{Disabled: &disabled}, servertest.Bearer(admin.AccessToken))
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("disable: %v %v %s", err, r.StatusCode(), r.Body)
		}
		refusedWithin(t, b, user.AccessToken)
	})

	t.Run("member role change", func(t *testing.T) {
		owner := a.Register(t, servertest.Email("cache-role"))
		member := a.Member(t, owner, api.InvitationRoleSTAFF)
		warm(t, b, member.AccessToken)
		r, err := a.Client.UpdateMemberWithResponse(ctx, *owner.User.BrandId, member.User.Id,
			api.UpdateMemberJSONRequestBody{Role: api.BrandRoleMANAGER}, servertest.Bearer(owner.AccessToken))
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("role change: %v %v %s", err, r.StatusCode(), r.Body)
		}
		refusedWithin(t, b, member.AccessToken)
	})

	t.Run("member removal", func(t *testing.T) {
		owner := a.Register(t, servertest.Email("cache-remove"))
		member := a.Member(t, owner, api.InvitationRoleSTAFF)
		warm(t, b, member.AccessToken)
		r, err := a.Client.RemoveMemberWithResponse(ctx, *owner.User.BrandId, member.User.Id, servertest.Bearer(owner.AccessToken))
		if err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("remove member: %v %v %s", err, r.StatusCode(), r.Body)
		}
		refusedWithin(t, b, member.AccessToken)
	})

	t.Run("refresh reuse", func(t *testing.T) {
		owner := a.Register(t, servertest.Email("cache-reuse"))
		rotated, err := a.Client.RefreshWithResponse(ctx, api.RefreshJSONRequestBody{RefreshToken: owner.RefreshToken})
		if err != nil || rotated.JSON200 == nil {
			t.Fatalf("refresh: %v %v", err, rotated.StatusCode())
		}
		warm(t, b, rotated.JSON200.AccessToken)
		// The replaced token again, past the grace for concurrent refreshes: reuse, which revokes
		// the session.
		a.Clock.Advance(a.Config.Auth.RefreshReuseGrace + time.Second)
		reused, err := a.Client.RefreshWithResponse(ctx, api.RefreshJSONRequestBody{RefreshToken: owner.RefreshToken})
		if err != nil || reused.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("reuse: %v %v %s", err, reused.StatusCode(), reused.Body)
		}
		refusedWithin(t, b, rotated.JSON200.AccessToken)
	})
}

// TestSessionCacheExpiry: a cached session is refused once its expiry passes by the server's
// clock, though nothing announced it.
func TestSessionCacheExpiry(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.Auth.RefreshTTL = 2 * time.Minute })
	waitTrusted(t, env, 1)
	owner := env.Register(t, servertest.Email("cache-expiry"))
	warm(t, env, owner.AccessToken)
	env.Clock.Advance(2*time.Minute + time.Second) // the access token (15 min) is still valid
	hits := env.SessionCache.Stats().Hits
	if got := profileStatus(t, env, owner.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("profile after the session expired = %d, want 401", got)
	}
	if got := env.SessionCache.Stats().Hits; got != hits {
		t.Fatalf("an expired session was answered from the cache (hits %d → %d)", hits, got)
	}
}

// TestSessionCacheListenerKilled kills the listening connections' backends again and again while
// sessions are revoked on instance A: instance B never accepts a revoked token past the promise
// (it answers from the database while it is not listening), and once the killing stops it
// listens again and answers from its cache.
func TestSessionCacheListenerKilled(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t)
	ctx := context.Background()
	const n = 12
	var sessions []api.AuthResponse
	for i := range n {
		s := a.Register(t, servertest.Email(fmt.Sprintf("cache-kill-%d", i)))
		warm(t, b, s.AccessToken)
		sessions = append(sessions, s)
	}
	owner, err := pgx.Connect(ctx, b.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = owner.Close(ctx) }()
	before := b.SessionCache.Stats().Connects

	stop := make(chan struct{})
	firstKill := make(chan struct{})
	var wg sync.WaitGroup
	var killed atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var k int64
			// Every listener of this database (both instances'), identified by its statement.
			if err := owner.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&k); err != nil {
				t.Errorf("kill listeners: %v", err)
				return
			}
			if k > 0 && killed.Add(k) == k {
				close(firstKill)
			}
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond): // the pace of the killing
			}
		}
	}()
	stopKilling := func() {
		close(stop)
		wg.Wait()
	}
	// The revocations begin once a listener has been killed: the killing goes on meanwhile, each
	// new listener killed as soon as it listens.
	select {
	case <-firstKill:
	case <-time.After(patience):
		stopKilling()
		t.Fatal("no listener was killed")
	}
	for i, s := range sessions {
		if r, err := a.Client.LogoutWithResponse(ctx, servertest.Bearer(s.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
			stopKilling()
			t.Fatalf("logout %d: %v %v", i, err, r.StatusCode())
		}
		time.Sleep(promise) // the promise itself, not a wait for an outcome
		// Past the promise, every answer is a refusal, whatever state the listener is in.
		for range 5 {
			if got := profileStatus(t, b, s.AccessToken); got != http.StatusUnauthorized {
				stopKilling()
				t.Fatalf("session %d: instance B accepted a revoked token (%d) while its listener was being killed", i, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stopKilling()
	// Listening again (once its pause, at most maxBackoff, is over): the cache is used again.
	waitStats(t, b, "a new listening connection", func(s sessioncache.Stats) bool { return s.Connects > before && s.Trusted })
	after := b.SessionCache.Stats()
	t.Logf("killed %d listeners; instance B reconnected %d times", killed.Load(), after.Connects-before)

	live := a.Register(t, servertest.Email("cache-kill-after"))
	warm(t, b, live.AccessToken)
}

// TestSessionCacheStorm: 10,000 revocations leave the cache within its bound, and what it held
// refused.
func TestSessionCacheStorm(t *testing.T) {
	t.Parallel()
	const size, filled, revoked = 500, 2000, 10_000
	env := servertest.New(t, func(c *server.Config) { c.SessionCache.Size = size })
	waitTrusted(t, env, 1)
	owner := env.Register(t, servertest.Email("cache-storm"))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()

	// revoked sessions of the owner, straight into the table.
	now := env.Clock.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, rotated_at, expires_at, absolute_expires_at)
		SELECT gen_random_uuid(), $1, '\x00', $2, $2, $2, $3, $3 FROM generate_series(1, $4)`,
		owner.User.Id, now, now.Add(time.Hour), revoked); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT id FROM sessions WHERE user_id = $1 AND refresh_hash = '\x00' ORDER BY id LIMIT $2`, owner.User.Id, filled)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New(token.Config{
		AccessSecret: []byte(servertest.AccessSecret), RefreshSecret: []byte(servertest.RefreshSecret),
		Issuer: env.Config.Auth.Issuer, Audience: env.Config.Auth.Audience,
		AccessTTL: env.Config.Auth.AccessTTL, RefreshTTL: env.Config.Auth.RefreshTTL, Now: env.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	access := make([]string, len(ids))
	for i, id := range ids {
		access[i], _, err = tokens.SignAccess(token.Access{
			UserID: owner.User.Id, SessionID: id, Role: string(owner.User.Role), BrandID: owner.User.BrandId, Version: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// More sessions used than the cache holds.
	for i, tok := range access {
		if got := profileStatus(t, env, tok); got != http.StatusOK {
			t.Fatalf("session %d: %d", i, got)
		}
		if s := env.SessionCache.Stats(); s.Sessions > size || s.Users > size {
			t.Fatalf("cache over its bound of %d: %+v", size, s)
		}
	}
	before := env.SessionCache.Stats()
	if before.Sessions == 0 {
		t.Fatalf("nothing cached: %+v", before)
	}

	// The storm: every one revoked, on many connections at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	all, err := conn.Query(ctx, `SELECT id FROM sessions WHERE user_id = $1 AND refresh_hash = '\x00'`, owner.User.Id)
	if err != nil {
		t.Fatal(err)
	}
	allIDs, err := pgx.CollectRows(all, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, env.OwnerURL)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = c.Close(ctx) }()
			// 50 sessions a statement: 10,000 notifications in 200 transactions.
			for i := w * 50; i < len(allIDs); i += 8 * 50 {
				batch := allIDs[i:min(i+50, len(allIDs))]
				if _, err := c.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = ANY($1)`, batch, now); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Wait for the listener to have applied the whole storm (under the race detector on a busy
	// machine it can take longer than the promise), checking the bound meanwhile.
	stormed := time.Now()
	var s sessioncache.Stats
	for {
		s = env.SessionCache.Stats()
		if s.Sessions > size || s.Users > size {
			t.Fatalf("cache over its bound of %d during the storm: %+v", size, s)
		}
		if s.Invalidations-before.Invalidations >= revoked {
			break
		}
		if time.Since(stormed) > patience {
			t.Fatalf("%d invalidations seen, want at least %d", s.Invalidations-before.Invalidations, revoked)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("before the storm %+v; after %+v (applied %s after the last commit)", before, s, time.Since(stormed).Round(time.Millisecond))
	// What was cached is gone (the owner's own session is the one left).
	if s.Sessions > 1 {
		t.Fatalf("%d revoked sessions still cached", s.Sessions)
	}
	for i := len(access) - 20; i < len(access); i++ {
		if got := profileStatus(t, env, access[i]); got != http.StatusUnauthorized {
			t.Fatalf("revoked session %d: %d", i, got)
		}
	}
}
