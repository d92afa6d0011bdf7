package identity_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// behindProxy makes the test's own address a trusted proxy, so each request can say which client
// address it comes from in X-Forwarded-For, as a load balancer would.
func behindProxy(c *server.Config) {
	c.Auth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// loginFrom logs in through the trusted proxy on behalf of client address ip.
func loginFrom(t *testing.T, env *servertest.Env, ip, email, password string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return env.PostJSON(t, "/auth/login", string(body), map[string]string{"X-Forwarded-For": ip})
}

// answer is what a client sees of a response, minus what differs on every request.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	delete(body, "requestId")
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
}

func (a answer) code() string { s, _ := a.body["code"].(string); return s }

func sameAnswer(a, b answer) bool {
	ja, _ := json.Marshal(a.body)
	jb, _ := json.Marshal(b.body)
	return a.status == b.status && a.retryAfter == b.retryAfter && string(ja) == string(jb)
}

// TestLoginUnknownAndKnownEmailsAlike is the enumeration attack of issue 9: wrong passwords for a
// real account and for an address with no account, side by side. Every answer, the throttle's
// included, must be the same (bar the request id). Timing is not asserted (too noisy on a shared
// machine); the unknown email goes through Hasher.VerifyNobody, a bcrypt against a dummy hash in
// the same queue, on the same code path as a wrong password.
func TestLoginUnknownAndKnownEmailsAlike(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	known := servertest.Email("known")
	env.Register(t, known)
	unknown := servertest.Email("unknown")

	for i := 1; i <= 7; i++ {
		k := readAnswer(t, loginFrom(t, env, "", known, "wrong password!"))
		u := readAnswer(t, loginFrom(t, env, "", unknown, "wrong password!"))
		want := string(api.ProblemCodeInvalidCredentials)
		if i > 5 {
			want = string(api.ProblemCodeAccountThrottled)
		}
		if k.code() != want || !sameAnswer(k, u) {
			t.Fatalf("attempt %d: known %+v, unknown %+v; want both %s", i, k, u, want)
		}
	}
	// The right password is throttled too: a 429 says nothing about the password either.
	k := readAnswer(t, loginFrom(t, env, "", known, servertest.Password))
	if k.status != 429 || k.retryAfter != "60" {
		t.Errorf("right password while throttled = %+v", k)
	}
}

// TestStrangerCannotLockOutAUser: an attacker's failures throttle the attacker's address only.
func TestStrangerCannotLockOutAUser(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, behindProxy)
	email := servertest.Email("victim")
	env.Register(t, email)
	const attacker, victim = "198.51.100.66", "203.0.113.9"

	for i := 1; i <= 5; i++ {
		if a := readAnswer(t, loginFrom(t, env, attacker, email, "guess number "+string(rune('0'+i)))); a.code() != string(api.ProblemCodeInvalidCredentials) {
			t.Fatalf("guess %d = %+v", i, a)
		}
	}
	if a := readAnswer(t, loginFrom(t, env, attacker, email, "one more guess")); a.status != 429 || a.code() != string(api.ProblemCodeAccountThrottled) || a.retryAfter != "60" {
		t.Fatalf("attacker after 5 failures = %+v, want 429 account_throttled, Retry-After 60", a)
	}
	if a := readAnswer(t, loginFrom(t, env, victim, email, servertest.Password)); a.status != 200 {
		t.Fatalf("the victim's right password from its own address = %+v, want 200", a)
	}
	// The victim's success does not lift the attacker's throttle.
	if a := readAnswer(t, loginFrom(t, env, attacker, email, "yet another guess")); a.status != 429 {
		t.Fatalf("attacker after the victim's login = %+v, want 429", a)
	}
}

// TestLoginCeilingPerAccount: a guesser spread over many addresses is stopped by the per-email
// ceiling, for known and unknown emails alike, and only until the delay has passed.
func TestLoginCeilingPerAccount(t *testing.T) {
	t.Parallel()
	if d := server.DefaultAuthConfig(); d.LoginMaxFailures != 5 || d.LoginAccountMaxFailures != 100 {
		t.Fatalf("documented defaults changed: %d per address, %d per account", d.LoginMaxFailures, d.LoginAccountMaxFailures)
	}
	env := servertest.New(t, behindProxy, func(c *server.Config) { c.Auth.LoginAccountMaxFailures = 8 })
	for _, tc := range []struct {
		name     string
		register bool
	}{{"known email", true}, {"unknown email", false}} {
		t.Run(tc.name, func(t *testing.T) {
			email := servertest.Email("ceiling")
			if tc.register {
				env.Register(t, email)
			}
			// 8 failures, 2 from each of 4 addresses: no address reaches its own limit of 5.
			for i := 0; i < 8; i++ {
				ip := "192.0.2." + string(rune('1'+i/2))
				if a := readAnswer(t, loginFrom(t, env, ip, email, "distributed guess")); a.code() != string(api.ProblemCodeInvalidCredentials) {
					t.Fatalf("failure %d from %s = %+v", i+1, ip, a)
				}
			}
			a := readAnswer(t, loginFrom(t, env, "203.0.113.200", email, servertest.Password))
			if a.status != 429 || a.code() != string(api.ProblemCodeAccountThrottled) || a.retryAfter != "60" {
				t.Fatalf("a fresh address past the per-account ceiling = %+v, want 429 account_throttled, Retry-After 60", a)
			}
		})
	}
	env.Clock.Advance(61 * time.Second)
	// The registered one (the first subtest's email) logs in again once the delay has passed.
	rows, err := env.Pool.Query(ctx, "SELECT email FROM users ORDER BY created_at LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(emails) != 1 {
		t.Fatalf("registered email: %v %v", emails, err)
	}
	if a := readAnswer(t, loginFrom(t, env, "203.0.113.200", emails[0], servertest.Password)); a.status != 200 {
		t.Errorf("after the delay = %+v, want 200", a)
	}
}

// TestChangePasswordIsThrottled is the brute force of issue 9 item 8: wrong current passwords
// with a stolen access token count as failed logins of the account, under the same throttle.
func TestChangePasswordIsThrottled(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	email := servertest.Email("pwguess")
	stolen := env.Register(t, email)
	change := func(current string) *api.ChangePasswordResponse {
		t.Helper()
		r, err := env.Client.ChangePasswordWithResponse(ctx, api.ChangePasswordJSONRequestBody{CurrentPassword: current, NewPassword: "the thief's own passphrase"}, servertest.Bearer(stolen.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := 1; i <= 5; i++ {
		r := change("guess " + string(rune('0'+i)) + " of the thief")
		servertest.WantProblem(t, "wrong current password", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeInvalidCurrentPassword)
	}
	r := change(servertest.Password)
	servertest.WantProblem(t, "sixth attempt, right password", r.HTTPResponse, r.ApplicationproblemJSON429, 429, api.ProblemCodeAccountThrottled)
	if got := r.HTTPResponse.Header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}
	// The same throttle as login: the account is throttled there too, from this address.
	l, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "login after the guesses", l.HTTPResponse, l.ApplicationproblemJSON429, 429, api.ProblemCodeAccountThrottled)

	typ := api.AuditEventTypePasswordChangeFailed
	ev, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{UserId: &stolen.User.Id, Type: &typ}, servertest.Bearer(admin.AccessToken))
	if err != nil || ev.JSON200 == nil || len(ev.JSON200.Items) != 5 {
		t.Fatalf("password_change_failed events = %d %s", ev.StatusCode(), ev.Body)
	}

	env.Clock.Advance(61 * time.Second)
	if r := change(servertest.Password); r.StatusCode() != 204 {
		t.Fatalf("right password after the delay = %d %s", r.StatusCode(), r.Body)
	}
}

// TestInvitationDoesNotRevealAccounts is the probe of issue 9: a brand owner inviting addresses to
// learn which have an account on the platform. The invitation answers alike; only the invitee,
// accepting, learns the address is taken.
func TestInvitationDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	prober := env.Register(t, servertest.Email("prober"))
	elsewhere := servertest.Email("elsewhere")
	env.Register(t, elsewhere) // an account in another brand

	invite := func(email string) *api.CreateInvitationResponse {
		t.Helper()
		r, err := env.Client.CreateInvitationWithResponse(ctx, *prober.User.BrandId, api.CreateInvitationJSONRequestBody{Email: openapi_types.Email(email), Role: api.InvitationRoleSTAFF}, servertest.Bearer(prober.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	taken, free := invite(elsewhere), invite(servertest.Email("nobody"))
	for name, r := range map[string]*api.CreateInvitationResponse{"existing account": taken, "no account": free} {
		if r.StatusCode() != 201 || r.JSON201 == nil || r.JSON201.Invitation.Status != api.Pending {
			t.Fatalf("%s: invite = %d %s", name, r.StatusCode(), r.Body)
		}
	}
	acc, err := env.Client.AcceptInviteWithResponse(ctx, api.AcceptInviteJSONRequestBody{InviteToken: taken.JSON201.InviteToken, Name: "Taken", Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "accepting for an existing account", acc.HTTPResponse, acc.ApplicationproblemJSON409, 409, api.ProblemCodeEmailTaken)
}

// TestLastAdminIsKept: an ADMIN cannot disable itself, and two ADMINs disabling each other at once
// cannot leave the platform without one.
func TestLastAdminIsKept(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	disabled := true
	disable := func(by api.AuthResponse, id uuid.UUID) *api.AdminUpdateUserResponse {
		r, err := env.Client.AdminUpdateUserWithResponse(ctx, id, api.AdminUpdateUserJSONRequestBody{Disabled: &disabled}, servertest.Bearer(by.AccessToken))
		if err != nil {
			t.Error(err)
			return nil
		}
		return r
	}

	t.Run("itself", func(t *testing.T) {
		a := env.Admin(t)
		r := disable(a, a.User.Id)
		servertest.WantProblem(t, "admin disables itself", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeLastAdmin)
		if p := env.Profile(t, a.AccessToken); p.StatusCode() != 200 {
			t.Errorf("the admin's token after the refusal = %d", p.StatusCode())
		}
	})

	t.Run("each other at once", func(t *testing.T) {
		for round := 0; round < 5; round++ {
			if _, err := env.Pool.Exec(ctx, "UPDATE users SET disabled = true WHERE role = 'ADMIN'"); err != nil {
				t.Fatal(err)
			}
			a, b := env.Admin(t), env.Admin(t)
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i, pair := range [][2]api.AuthResponse{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := disable(pair[0], pair[1].User.Id); r != nil {
						codes[i] = r.StatusCode()
					}
				}()
			}
			wg.Wait()
			var enabled int
			if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM users WHERE role = 'ADMIN' AND NOT disabled").Scan(&enabled); err != nil {
				t.Fatal(err)
			}
			// The loser is refused by the lock (409) or, when the winner committed first, by its
			// revoked token (401).
			if enabled != 1 || codes[0] == codes[1] {
				t.Fatalf("round %d: answers %v, %d enabled ADMINs left; want one 200 and one ADMIN left", round, codes, enabled)
			}
		}
	})
}

// TestTokenResponsesAreNotCached: every answer carrying tokens says no-store (RFC 6749 §5.1).
func TestTokenResponsesAreNotCached(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("nostore")
	cases := map[string]func() *http.Response{
		"register": func() *http.Response {
			r, err := env.Client.RegisterWithResponse(ctx, api.RegisterJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password, Name: "N"})
			if err != nil || r.JSON201 == nil {
				t.Fatalf("register: %v %d", err, r.StatusCode())
			}
			return r.HTTPResponse
		},
		"login": func() *http.Response {
			r, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password})
			if err != nil || r.JSON200 == nil {
				t.Fatalf("login: %v %d", err, r.StatusCode())
			}
			return r.HTTPResponse
		},
		"refresh": func() *http.Response {
			return env.Refresh(t, env.Login(t, email, servertest.Password).RefreshToken).HTTPResponse
		},
		"accept invite": func() *http.Response {
			owner := env.Login(t, email, servertest.Password)
			inv, err := env.Client.CreateInvitationWithResponse(ctx, *owner.User.BrandId, api.CreateInvitationJSONRequestBody{Email: openapi_types.Email(servertest.Email("invitee")), Role: api.InvitationRoleSTAFF}, servertest.Bearer(owner.AccessToken))
			if err != nil || inv.JSON201 == nil {
				t.Fatalf("invite: %v", err)
			}
			r, err := env.Client.AcceptInviteWithResponse(ctx, api.AcceptInviteJSONRequestBody{InviteToken: inv.JSON201.InviteToken, Name: "I", Password: servertest.Password})
			if err != nil {
				t.Fatal(err)
			}
			return r.HTTPResponse
		},
	}
	for _, name := range []string{"register", "login", "refresh", "accept invite"} {
		t.Run(name, func(t *testing.T) {
			resp := cases[name]()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := resp.Header.Get("Pragma"); got != "no-cache" {
				t.Errorf("Pragma = %q, want no-cache", got)
			}
		})
	}
}

// TestForgedTokensAreRefused: tokens made with the right key that the server never issues: a
// lifetime past the configured TTL, a second spelling of a signature, a refresh token of the
// session that is not the one issued.
func TestForgedTokensAreRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	auth := env.Register(t, servertest.Email("forged"))
	now := env.Clock.Now()
	forge := func(tok, typ, secret string, mutate func(c map[string]any)) string {
		c := servertest.DecodeClaims(t, tok)
		mutate(c)
		return servertest.SignJWT(t, map[string]any{"alg": "HS256", "typ": typ}, c, "HS256", secret)
	}

	t.Run("access token living a year", func(t *testing.T) {
		tok := forge(auth.AccessToken, "at+jwt", servertest.AccessSecret, func(c map[string]any) {
			c["iat"] = now.Unix()
			c["exp"] = now.Add(365 * 24 * time.Hour).Unix()
		})
		p := env.Profile(t, tok)
		servertest.WantProblem(t, "long-lived access token", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidToken)
		// The TTL plus the leeway is still fine: the limit is not off by one the other way.
		ok := forge(auth.AccessToken, "at+jwt", servertest.AccessSecret, func(c map[string]any) {
			c["iat"] = now.Unix()
			c["exp"] = now.Add(15*time.Minute + 30*time.Second).Unix()
		})
		if p := env.Profile(t, ok); p.StatusCode() != 200 {
			t.Errorf("access token of TTL + leeway = %d", p.StatusCode())
		}
	})
	t.Run("refresh token living past the TTL", func(t *testing.T) {
		tok := forge(auth.RefreshToken, "refresh+jwt", servertest.RefreshSecret, func(c map[string]any) {
			c["exp"] = now.Add(168*time.Hour + time.Hour).Unix()
		})
		r := env.Refresh(t, tok)
		servertest.WantProblem(t, "long-lived refresh token", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	})
	t.Run("signature with its unused bits flipped", func(t *testing.T) {
		// A 32-byte HMAC is 43 base64url characters, 258 bits: the last character's two low bits
		// carry nothing, so a lenient decoder reads the same signature from another string.
		flip := func(tok string) string {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			return tok[:len(tok)-1] + string(alphabet[last^1])
		}
		p := env.Profile(t, flip(auth.AccessToken))
		servertest.WantProblem(t, "access token, flipped bits", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidToken)
		r := env.Refresh(t, flip(auth.RefreshToken))
		servertest.WantProblem(t, "refresh token, flipped bits", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
		if p := env.Profile(t, auth.AccessToken); p.StatusCode() != 200 {
			t.Errorf("the genuine access token after the attempts = %d", p.StatusCode())
		}
	})

	// A validly signed refresh token that is not the one issued for its session: only a holder of
	// the signing key makes one. The session ends (the genuine token with it) and it is audited.
	refreshID := func(sid string, gen int) string {
		id := uuid.MustParse(sid)
		h := sha256.Sum256(fmt.Appendf(id[:], "/%d", gen))
		return base64.RawURLEncoding.EncodeToString(h[:16])
	}
	for _, tc := range []struct {
		name   string
		mutate func(c map[string]any)
	}{
		{"the current generation, not the token issued", func(c map[string]any) { c["iat"] = c["iat"].(float64) - 1 }},
		{"a generation never issued", func(c map[string]any) { c["gen"] = 2; c["jti"] = refreshID(c["sid"].(string), 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := env.Register(t, servertest.Email("forgedrefresh"))
			tok := forge(victim.RefreshToken, "refresh+jwt", servertest.RefreshSecret, tc.mutate)
			r := env.Refresh(t, tok)
			servertest.WantProblem(t, "forged refresh token", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
			r = env.Refresh(t, victim.RefreshToken)
			servertest.WantProblem(t, "the genuine token of the revoked session", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
			p := env.Profile(t, victim.AccessToken)
			servertest.WantProblem(t, "the session's access token", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)

			typ := api.AuditEventTypeRefreshForged
			ev, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{UserId: &victim.User.Id, Type: &typ}, servertest.Bearer(admin.AccessToken))
			if err != nil || ev.JSON200 == nil || len(ev.JSON200.Items) != 1 {
				t.Fatalf("refresh_forged events = %d %s", ev.StatusCode(), ev.Body)
			}
			sid := uuid.MustParse(servertest.DecodeClaims(t, victim.RefreshToken)["sid"].(string))
			if e := ev.JSON200.Items[0]; e.SessionId == nil || *e.SessionId != sid || e.ActorId != nil {
				t.Errorf("event = %+v, want session %s and no actor", e, sid)
			}
		})
	}
}

// TestAuditEventsNameTheActor: an event says who acted, and keeps saying it once the actor's
// sessions are pruned (the actor is a user, not a session).
func TestAuditEventsNameTheActor(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	owner := env.Register(t, servertest.Email("target"))
	inviteOwner(t, env, owner) // the brand keeps an enabled owner
	disabled := true
	if r, err := env.Client.AdminUpdateUserWithResponse(ctx, owner.User.Id, api.AdminUpdateUserJSONRequestBody{Disabled: &disabled}, servertest.Bearer(admin.AccessToken)); err != nil || r.JSON200 == nil {
		t.Fatalf("disable: %v", err)
	}
	failed := readAnswer(t, loginFrom(t, env, "", string(owner.User.Email), "not the password"))
	if failed.status != 401 {
		t.Fatalf("failed login = %+v", failed)
	}

	events := func() map[api.AuditEventType]api.AuditEvent {
		t.Helper()
		ev, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{UserId: &owner.User.Id}, servertest.Bearer(admin.AccessToken))
		if err != nil || ev.JSON200 == nil {
			t.Fatalf("list: %v", err)
		}
		out := map[api.AuditEventType]api.AuditEvent{}
		for _, e := range ev.JSON200.Items {
			if _, seen := out[e.Type]; !seen {
				out[e.Type] = e // newest first: keep the newest of each type
			}
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		ev := events()
		for typ, want := range map[api.AuditEventType]*uuid.UUID{
			api.AuditEventTypeUserUpdated: &admin.User.Id, // an ADMIN acted on the owner
			api.AuditEventTypeRegister:    &owner.User.Id, // the owner, proving itself
			api.AuditEventTypeLoginFailed: nil,            // nobody authenticated
		} {
			e, ok := ev[typ]
			switch {
			case !ok:
				t.Errorf("%s: no %s event", when, typ)
			case want == nil && e.ActorId != nil:
				t.Errorf("%s: %s actor = %s, want none", when, typ, e.ActorId)
			case want != nil && (e.ActorId == nil || *e.ActorId != *want):
				t.Errorf("%s: %s actor = %v, want %s", when, typ, e.ActorId, want)
			}
		}
	}
	check("before pruning")

	// The admin's session ends and, long after, is pruned.
	if r, err := env.Client.LogoutWithResponse(ctx, servertest.Bearer(admin.AccessToken)); err != nil || r.StatusCode() != 204 {
		t.Fatalf("logout: %v", err)
	}
	admin = env.Login(t, string(admin.User.Email), servertest.Password) // a fresh session to read with
	env.Clock.Advance(server.SessionRetention + time.Hour)
	admin = env.Login(t, string(admin.User.Email), servertest.Password)
	if n, err := server.PruneSessions(ctx, env.Pool, env.Clock.Now()); err != nil || n == 0 {
		t.Fatalf("prune = %d, %v; want the dead sessions gone", n, err)
	}
	check("after pruning")
}
