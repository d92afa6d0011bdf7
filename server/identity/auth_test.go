package identity_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// TestTheOriginalManualFlow is the NestJS project's manual test, as a test: register, login,
// refresh, replay the old refresh token (reuse: the session dies, the newest token with it), log
// in again, log out, and nothing of the logged-out session works any more.
func TestTheOriginalManualFlow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("flow")

	reg := env.Register(t, email)
	if reg.User.Role != api.RoleBRANDOWNER || reg.User.BrandId == nil || reg.TokenType != api.Bearer || reg.ExpiresIn != 900 {
		t.Fatalf("register answered %+v", reg)
	}
	login := env.Login(t, strings.ToUpper(email), servertest.Password) // emails compare case-insensitively
	if got := env.Profile(t, login.AccessToken); got.JSON200 == nil || string(got.JSON200.Email) != email {
		t.Fatalf("profile = %d %s", got.StatusCode(), got.Body)
	}

	first := env.Refresh(t, login.RefreshToken)
	if first.JSON200 == nil {
		t.Fatalf("refresh = %d %s", first.StatusCode(), first.Body)
	}
	if first.JSON200.RefreshToken == login.RefreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}

	env.Clock.Advance(11 * time.Second) // past REFRESH_REUSE_GRACE
	reused := env.Refresh(t, login.RefreshToken)
	servertest.WantProblem(t, "replayed refresh token", reused.HTTPResponse, reused.ApplicationproblemJSON401, 401, api.ProblemCodeRefreshTokenReused)

	newest := env.Refresh(t, first.JSON200.RefreshToken)
	servertest.WantProblem(t, "newest token after reuse", newest.HTTPResponse, newest.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	p := env.Profile(t, first.JSON200.AccessToken)
	servertest.WantProblem(t, "access token of the revoked session", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)

	again := env.Login(t, email, servertest.Password)
	out, err := env.Client.LogoutWithResponse(ctx, servertest.Bearer(again.AccessToken))
	if err != nil || out.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout = %v %v", out.StatusCode(), err)
	}
	afterLogout := env.Refresh(t, again.RefreshToken)
	servertest.WantProblem(t, "refresh after logout", afterLogout.HTTPResponse, afterLogout.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	p = env.Profile(t, again.AccessToken)
	servertest.WantProblem(t, "access token after logout", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)

	// The reuse left a trace for the admins.
	admin := env.Admin(t)
	typ := api.AuditEventTypeRefreshReuse
	events, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{Type: &typ}, servertest.Bearer(admin.AccessToken))
	if err != nil || events.JSON200 == nil || len(events.JSON200.Items) != 1 || *events.JSON200.Items[0].UserId != reg.User.Id {
		t.Fatalf("refresh_reuse events = %d %s", events.StatusCode(), events.Body)
	}
}

func TestRegisterRules(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("rules")
	env.Register(t, email)

	// Another account with the same email in other case.
	resp, err := env.Client.RegisterWithResponse(ctx, api.RegisterJSONRequestBody{
		Email: openapi_types.Email(strings.ToUpper(email)), Password: servertest.Password, Name: "Twin",
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "email in other case", resp.HTTPResponse, resp.ApplicationproblemJSON409, 409, api.ProblemCodeEmailTaken)

	cases := []struct {
		name, body, field string
	}{
		{"role is not the client's to choose", `{"email":"a@example.com","password":"a fine test passphrase","name":"A","role":"ADMIN"}`, "role"},
		{"common password", `{"email":"b@example.com","password":"Password1","name":"B"}`, "password"},
		{"short password", `{"email":"c@example.com","password":"short","name":"C"}`, "password"},
		{"73 bytes in 37 characters", `{"email":"d@example.com","password":"` + strings.Repeat("é", 36) + `x","name":"D"}`, "password"},
		{"surrounding spaces in email", `{"email":" e@example.com","password":"a fine test passphrase","name":"E"}`, "email"},
		{"empty name", `{"email":"f@example.com","password":"a fine test passphrase","name":""}`, "name"},
	}
	for _, c := range cases {
		resp := env.PostJSON(t, "/auth/register", c.body, nil)
		p := servertest.ReadProblem(t, resp)
		if resp.StatusCode != 400 || p.Code != api.ProblemCodeValidationFailed || p.Errors == nil || (*p.Errors)[0].Field != c.field {
			t.Errorf("%s: got %d %+v", c.name, resp.StatusCode, p)
		}
	}

	// 72 bytes exactly is fine: the limit is bcrypt's, and it is not truncated below it.
	ok := env.PostJSON(t, "/auth/register", `{"email":"g@example.com","password":"`+strings.Repeat("é", 36)+`","name":"G"}`, nil)
	_ = ok.Body.Close()
	if ok.StatusCode != http.StatusCreated {
		t.Errorf("72-byte password: %d", ok.StatusCode)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("alike")
	env.Register(t, email)

	unknown := env.PostJSON(t, "/auth/login", `{"email":"nobody@example.com","password":"whatever it is"}`, nil)
	wrong := env.PostJSON(t, "/auth/login", `{"email":"`+email+`","password":"whatever it is"}`, nil)
	pu, pw := servertest.ReadProblem(t, unknown), servertest.ReadProblem(t, wrong)
	if unknown.StatusCode != 401 || wrong.StatusCode != 401 || pu.Code != api.ProblemCodeInvalidCredentials || pw.Code != pu.Code || *pu.Detail != *pw.Detail {
		t.Errorf("unknown email and wrong password differ: %+v vs %+v", pu, pw)
	}
}

func TestLockoutAndReset(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("lock")
	env.Register(t, email)
	login := func(pw string) *api.LoginResponse {
		resp, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: openapi_types.Email(email), Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	for i := 1; i <= 5; i++ {
		r := login("wrong password!")
		servertest.WantProblem(t, "failure", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidCredentials)
	}
	r := login(servertest.Password) // the right password, while throttled
	servertest.WantProblem(t, "throttled", r.HTTPResponse, r.ApplicationproblemJSON429, 429, api.ProblemCodeAccountThrottled)
	if got := r.HTTPResponse.Header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60", got)
	}

	env.Clock.Advance(61 * time.Second)
	r = login("wrong password!") // the sixth failure doubles the delay
	servertest.WantProblem(t, "sixth failure", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidCredentials)
	r = login(servertest.Password)
	servertest.WantProblem(t, "throttled again", r.HTTPResponse, r.ApplicationproblemJSON429, 429, api.ProblemCodeAccountThrottled)
	if got := r.HTTPResponse.Header.Get("Retry-After"); got != "120" {
		t.Errorf("Retry-After after the sixth failure = %q, want 120", got)
	}

	env.Clock.Advance(121 * time.Second)
	if r := login(servertest.Password); r.JSON200 == nil {
		t.Fatalf("login after the delay = %d %s", r.StatusCode(), r.Body)
	}
	// Success reset the count: one more failure is not a lockout.
	login("wrong password!")
	if r := login(servertest.Password); r.JSON200 == nil {
		t.Fatalf("login after a reset = %d %s", r.StatusCode(), r.Body)
	}
}

func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	email := servertest.Email("disabled")
	owner := env.Register(t, email)
	inviteOwner(t, env, owner) // a brand keeps an enabled owner: give it a second one

	disabled := true
	upd, err := env.Client.AdminUpdateUserWithResponse(ctx, owner.User.Id, api.AdminUpdateUserJSONRequestBody{Disabled: &disabled}, servertest.Bearer(admin.AccessToken))
	if err != nil || upd.JSON200 == nil || !upd.JSON200.Disabled {
		t.Fatalf("disable = %d %s", upd.StatusCode(), upd.Body)
	}
	p := env.Profile(t, owner.AccessToken)
	servertest.WantProblem(t, "token of a disabled user", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	r := env.Refresh(t, owner.RefreshToken)
	servertest.WantProblem(t, "refresh of a disabled user", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	resp, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "login of a disabled user", resp.HTTPResponse, resp.ApplicationproblemJSON403, 403, api.ProblemCodeAccountDisabled)
}

// inviteOwner makes a second BRAND_OWNER in owner's brand (invited, then promoted) and returns
// its id.
func inviteOwner(t *testing.T, env *servertest.Env, owner api.AuthResponse) uuid.UUID {
	t.Helper()
	m := env.Member(t, owner, api.InvitationRoleMANAGER)
	r, err := env.Client.UpdateMemberWithResponse(ctx, *owner.User.BrandId, m.User.Id, api.UpdateMemberJSONRequestBody{Role: api.BrandRoleBRANDOWNER}, servertest.Bearer(owner.AccessToken))
	if err != nil || r.JSON200 == nil {
		t.Fatalf("promote to owner = %v %d", err, r.StatusCode())
	}
	return m.User.Id
}

// TestAccessTokenAttacks presents every kind of bad bearer token; each is a 401 with a challenge.
func TestAccessTokenAttacks(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	auth := env.Register(t, servertest.Email("attack"))
	good := servertest.DecodeClaims(t, auth.AccessToken)
	now := env.Clock.Now()

	forge := func(mutate func(h, c map[string]any), alg, secret string) string {
		h := map[string]any{"alg": "HS256", "typ": "at+jwt"}
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		mutate(h, c)
		return servertest.SignJWT(t, h, c, alg, secret)
	}
	same := func(h, c map[string]any) {}
	cases := []struct {
		name   string
		header string
		code   api.ProblemCode
	}{
		{"no header", "", api.ProblemCodeUnauthenticated},
		{"another scheme", "Basic " + auth.AccessToken, api.ProblemCodeUnauthenticated},
		{"empty bearer", "Bearer ", api.ProblemCodeUnauthenticated},
		{"garbage", "Bearer not.a.jwt", api.ProblemCodeInvalidToken},
		{"a refresh token", "Bearer " + auth.RefreshToken, api.ProblemCodeInvalidToken},
		{"signed with another secret", "Bearer " + forge(same, "HS256", "another secret of at least 32 bytes!!"), api.ProblemCodeInvalidToken},
		{"signed with the refresh secret", "Bearer " + forge(same, "HS256", servertest.RefreshSecret), api.ProblemCodeInvalidToken},
		{"alg none", "Bearer " + forge(func(h, c map[string]any) { h["alg"] = "none" }, "none", ""), api.ProblemCodeInvalidToken},
		{"HS512 with the right secret", "Bearer " + forge(func(h, c map[string]any) { h["alg"] = "HS512" }, "HS512", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"typ JWT", "Bearer " + forge(func(h, c map[string]any) { h["typ"] = "JWT" }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"no typ", "Bearer " + forge(func(h, c map[string]any) { delete(h, "typ") }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"typ of a refresh token", "Bearer " + forge(func(h, c map[string]any) { h["typ"] = "refresh+jwt" }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"wrong issuer", "Bearer " + forge(func(h, c map[string]any) { c["iss"] = "someone-else" }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"wrong audience", "Bearer " + forge(func(h, c map[string]any) { c["aud"] = "another-api" }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"no exp", "Bearer " + forge(func(h, c map[string]any) { delete(c, "exp") }, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"expired", "Bearer " + forge(func(h, c map[string]any) {
			c["iat"] = now.Add(-15*time.Minute - 31*time.Second).Unix()
			c["exp"] = now.Add(-31 * time.Second).Unix()
		}, "HS256", servertest.AccessSecret), api.ProblemCodeTokenExpired},
		{"issued in the future", "Bearer " + forge(func(h, c map[string]any) {
			c["iat"] = now.Add(time.Hour).Unix()
			c["exp"] = now.Add(2 * time.Hour).Unix()
		}, "HS256", servertest.AccessSecret), api.ProblemCodeInvalidToken},
		{"stale version", "Bearer " + forge(func(h, c map[string]any) { c["ver"] = 0 }, "HS256", servertest.AccessSecret), api.ProblemCodeTokenRevoked},
		{"unknown session", "Bearer " + forge(func(h, c map[string]any) { c["sid"] = uuid.NewString() }, "HS256", servertest.AccessSecret), api.ProblemCodeTokenRevoked},
		{"another user's session", "Bearer " + forge(func(h, c map[string]any) { c["sub"] = uuid.NewString() }, "HS256", servertest.AccessSecret), api.ProblemCodeTokenRevoked},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/auth/profile", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := servertest.ReadProblem(t, resp)
		if resp.StatusCode != 401 || p.Code != c.code || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: got %d %q (WWW-Authenticate %q), want 401 %q", c.name, resp.StatusCode, p.Code, resp.Header.Get("WWW-Authenticate"), c.code)
		}
	}

	// The forging helper itself is sound: an unmodified token signed the same way is accepted.
	if p := env.Profile(t, forge(same, "HS256", servertest.AccessSecret)); p.StatusCode() != 200 {
		t.Fatalf("a correctly signed copy was refused: %d", p.StatusCode())
	}
	// Expiry honours the 30 s leeway and no more.
	env.Clock.Advance(15*time.Minute + 20*time.Second)
	if p := env.Profile(t, auth.AccessToken); p.StatusCode() != 200 {
		t.Errorf("token 20 s past exp (within leeway) = %d", p.StatusCode())
	}
	env.Clock.Advance(15 * time.Second)
	p := env.Profile(t, auth.AccessToken)
	servertest.WantProblem(t, "token 35 s past exp", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenExpired)
}

func TestRefreshTokenAttacks(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	auth := env.Register(t, servertest.Email("rattack"))
	good := servertest.DecodeClaims(t, auth.RefreshToken)

	forge := func(mutate func(h, c map[string]any), alg, secret string) string {
		h := map[string]any{"alg": "HS256", "typ": "refresh+jwt"}
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		mutate(h, c)
		return servertest.SignJWT(t, h, c, alg, secret)
	}
	cases := map[string]string{
		"an access token":                 auth.AccessToken,
		"signed with the access secret":   forge(func(h, c map[string]any) {}, "HS256", servertest.AccessSecret),
		"alg none":                        forge(func(h, c map[string]any) { h["alg"] = "none" }, "none", ""),
		"typ of an access token":          forge(func(h, c map[string]any) { h["typ"] = "at+jwt" }, "HS256", servertest.RefreshSecret),
		"a later generation than issued":  forge(func(h, c map[string]any) { c["gen"] = 2 }, "HS256", servertest.RefreshSecret),
		"a truncated token":               auth.RefreshToken[:len(auth.RefreshToken)-4],
		"expired":                         forge(func(h, c map[string]any) { c["exp"] = env.Clock.Now().Add(-time.Minute).Unix() }, "HS256", servertest.RefreshSecret),
		"another session's id, same user": forge(func(h, c map[string]any) { c["sid"] = uuid.NewString() }, "HS256", servertest.RefreshSecret),
	}
	for name, tok := range cases {
		r := env.Refresh(t, tok)
		if r.StatusCode() != 401 || r.ApplicationproblemJSON401 == nil || r.ApplicationproblemJSON401.Code != api.ProblemCodeInvalidRefreshToken {
			t.Errorf("%s: got %d %s", name, r.StatusCode(), r.Body)
		}
	}
	// None of that hurt the genuine session.
	if r := env.Refresh(t, auth.RefreshToken); r.JSON200 == nil {
		t.Fatalf("genuine refresh after the attacks = %d %s", r.StatusCode(), r.Body)
	}
}

func TestRefreshGraceWindow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	auth := env.Register(t, servertest.Email("grace"))

	gen2 := env.Refresh(t, auth.RefreshToken).JSON200
	env.Clock.Advance(3 * time.Second)
	// The parent, within the window: the same successor, a fresh access token, no rotation.
	again := env.Refresh(t, auth.RefreshToken)
	if again.JSON200 == nil || again.JSON200.RefreshToken != gen2.RefreshToken {
		t.Fatalf("parent within grace = %d %s", again.StatusCode(), again.Body)
	}
	if p := env.Profile(t, again.JSON200.AccessToken); p.StatusCode() != 200 {
		t.Fatalf("access token from the grace answer = %d", p.StatusCode())
	}

	gen3 := env.Refresh(t, gen2.RefreshToken).JSON200
	if gen3 == nil {
		t.Fatal("successor refused")
	}
	// The grandparent, even within the window, is reuse.
	grand := env.Refresh(t, auth.RefreshToken)
	servertest.WantProblem(t, "grandparent within grace", grand.HTTPResponse, grand.ApplicationproblemJSON401, 401, api.ProblemCodeRefreshTokenReused)
	if r := env.Refresh(t, gen3.RefreshToken); r.StatusCode() != 401 {
		t.Errorf("the newest token survived reuse detection: %d", r.StatusCode())
	}

	// The parent after the window is reuse too.
	auth = env.Login(t, string(auth.User.Email), servertest.Password)
	next := env.Refresh(t, auth.RefreshToken).JSON200
	env.Clock.Advance(11 * time.Second)
	late := env.Refresh(t, auth.RefreshToken)
	servertest.WantProblem(t, "parent after grace", late.HTTPResponse, late.ApplicationproblemJSON401, 401, api.ProblemCodeRefreshTokenReused)
	if r := env.Refresh(t, next.RefreshToken); r.StatusCode() != 401 {
		t.Errorf("the successor survived reuse detection: %d", r.StatusCode())
	}
}

// TestConcurrentRefresh fires 50 refreshes of one token at once: exactly one rotation happens,
// nobody gets a 5xx, and there are never two live successors.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{10 * time.Second, 0} {
		t.Run("grace "+grace.String(), func(t *testing.T) {
			t.Parallel()
			env := servertest.New(t, func(c *server.Config) { c.Auth.RefreshReuseGrace = grace })
			auth := env.Register(t, servertest.Email("race"))

			const n = 50
			var wg sync.WaitGroup
			results := make([]*api.RefreshResponse, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r, err := env.Client.RefreshWithResponse(ctx, api.RefreshJSONRequestBody{RefreshToken: auth.RefreshToken})
					if err != nil {
						t.Error(err)
						return
					}
					results[i] = r
				}()
			}
			close(start)
			wg.Wait()

			tokens := map[string]int{}
			ok, refused := 0, 0
			for _, r := range results {
				switch {
				case r == nil:
				case r.JSON200 != nil:
					ok++
					tokens[r.JSON200.RefreshToken]++
				case r.StatusCode() == 401:
					refused++
				default:
					t.Errorf("unexpected answer %d %s", r.StatusCode(), r.Body)
				}
			}
			if len(tokens) > 1 {
				t.Fatalf("%d different successors issued", len(tokens))
			}
			var generation int32
			if err := env.Pool.QueryRow(ctx, "SELECT generation FROM sessions WHERE user_id = $1", auth.User.Id).Scan(&generation); err != nil {
				t.Fatal(err)
			}
			if generation != 2 {
				t.Errorf("generation = %d after the race, want exactly one rotation (2)", generation)
			}
			if grace > 0 {
				if ok != n {
					t.Errorf("with grace: %d of %d got 200", ok, n)
				}
			} else if ok != 1 || refused != n-1 {
				t.Errorf("without grace: %d got 200 and %d got 401, want 1 and %d", ok, refused, n-1)
			}
		})
	}
}

func TestLogoutAllAcrossSessions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("all")
	a := env.Register(t, email)
	b := env.Login(t, email, servertest.Password)
	other := env.Register(t, servertest.Email("bystander"))

	sessions, err := env.Client.ListSessionsWithResponse(ctx, servertest.Bearer(b.AccessToken))
	if err != nil || sessions.JSON200 == nil || len(sessions.JSON200.Items) != 2 {
		t.Fatalf("sessions = %d %s", sessions.StatusCode(), sessions.Body)
	}
	current := 0
	for _, s := range sessions.JSON200.Items {
		if s.Current {
			current++
		}
	}
	if current != 1 {
		t.Errorf("%d sessions marked current, want 1", current)
	}

	out, err := env.Client.LogoutAllWithResponse(ctx, servertest.Bearer(a.AccessToken))
	if err != nil || out.StatusCode() != 204 {
		t.Fatalf("logout-all = %d", out.StatusCode())
	}
	for name, tok := range map[string]string{"a": a.AccessToken, "b": b.AccessToken} {
		p := env.Profile(t, tok)
		servertest.WantProblem(t, "access "+name, p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	}
	for name, tok := range map[string]string{"a": a.RefreshToken, "b": b.RefreshToken} {
		r := env.Refresh(t, tok)
		servertest.WantProblem(t, "refresh "+name, r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	}
	if p := env.Profile(t, other.AccessToken); p.StatusCode() != 200 {
		t.Errorf("another user's session died too: %d", p.StatusCode())
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.Auth.SessionsMaxPerUser = 2 })
	email := servertest.Email("sess")
	first := env.Register(t, email)
	env.Clock.Advance(time.Second)
	second := env.Login(t, email, servertest.Password)
	env.Clock.Advance(time.Second)
	third := env.Login(t, email, servertest.Password) // past the limit: the least recently used goes

	p := env.Profile(t, first.AccessToken)
	servertest.WantProblem(t, "evicted session", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)

	list, err := env.Client.ListSessionsWithResponse(ctx, servertest.Bearer(third.AccessToken))
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 2 {
		t.Fatalf("sessions = %d %s", list.StatusCode(), list.Body)
	}
	secondID := servertest.DecodeClaims(t, second.AccessToken)["sid"].(string)
	if got := list.JSON200.Items[1].Id.String(); got != secondID || !list.JSON200.Items[0].Current {
		t.Errorf("order or current flag wrong: %s", list.Body)
	}

	// Someone else's session, and one that does not exist, are the same 404.
	stranger := env.Register(t, servertest.Email("stranger"))
	for name, id := range map[string]uuid.UUID{"another user's": uuid.MustParse(secondID), "unknown": uuid.New()} {
		r, err := env.Client.RevokeSessionWithResponse(ctx, id, servertest.Bearer(stranger.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		servertest.WantProblem(t, name+" session", r.HTTPResponse, r.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	}
	r, err := env.Client.RevokeSessionWithResponse(ctx, uuid.MustParse(secondID), servertest.Bearer(third.AccessToken))
	if err != nil || r.StatusCode() != 204 {
		t.Fatalf("revoke own session = %d", r.StatusCode())
	}
	p = env.Profile(t, second.AccessToken)
	servertest.WantProblem(t, "revoked session", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	if p := env.Profile(t, third.AccessToken); p.StatusCode() != 200 {
		t.Errorf("the revoking session died too: %d", p.StatusCode())
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	email := servertest.Email("pw")
	here := env.Register(t, email)
	elsewhere := env.Login(t, email, servertest.Password)

	change := func(current, next string) *api.ChangePasswordResponse {
		r, err := env.Client.ChangePasswordWithResponse(ctx, api.ChangePasswordJSONRequestBody{CurrentPassword: current, NewPassword: next}, servertest.Bearer(here.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := change("not my password", "a brand new passphrase")
	servertest.WantProblem(t, "wrong current password", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeInvalidCurrentPassword)
	r = change(servertest.Password, "iloveyou")
	servertest.WantProblem(t, "common new password", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	if r := change(servertest.Password, "a brand new passphrase"); r.StatusCode() != 204 {
		t.Fatalf("change = %d %s", r.StatusCode(), r.Body)
	}
	if p := env.Profile(t, here.AccessToken); p.StatusCode() != 200 {
		t.Errorf("this session died: %d", p.StatusCode())
	}
	p := env.Profile(t, elsewhere.AccessToken)
	servertest.WantProblem(t, "other session", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	env.Login(t, email, "a brand new passphrase")
	old, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "old password", old.HTTPResponse, old.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidCredentials)
}

func TestAdminOnly(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("notadmin"))

	users, err := env.Client.AdminListUsersWithResponse(ctx, nil, servertest.Bearer(owner.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "owner lists users", users.HTTPResponse, users.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)
	events, err := env.Client.AdminListAuditEventsWithResponse(ctx, nil, servertest.Bearer(owner.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "owner lists events", events.HTTPResponse, events.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)
	role := api.BrandRoleSTAFF
	upd, err := env.Client.AdminUpdateUserWithResponse(ctx, owner.User.Id, api.AdminUpdateUserJSONRequestBody{Role: &role}, servertest.Bearer(owner.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "owner demotes itself", upd.HTTPResponse, upd.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)
}

func TestAdminUserListPages(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	want := map[uuid.UUID]bool{admin.User.Id: true}
	for range 6 {
		want[env.Register(t, servertest.Email("page")).User.Id] = true
	}

	limit := 4
	seen := map[uuid.UUID]bool{}
	var cursor *string
	pages := 0
	for {
		resp, err := env.Client.AdminListUsersWithResponse(ctx, &api.AdminListUsersParams{Limit: &limit, Cursor: cursor}, servertest.Bearer(admin.AccessToken))
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("page = %d %s", resp.StatusCode(), resp.Body)
		}
		pages++
		for _, u := range resp.JSON200.Items {
			if seen[u.Id] {
				t.Fatalf("user %s on two pages", u.Id)
			}
			seen[u.Id] = true
		}
		if resp.JSON200.NextCursor == nil {
			break
		}
		cursor = resp.JSON200.NextCursor
	}
	if pages != 2 || len(seen) != len(want) {
		t.Errorf("%d pages, %d users; want 2 pages, %d users", pages, len(seen), len(want))
	}

	for name, bad := range map[string]string{
		"garbage":  "not-a-cursor",
		"tampered": strings.Replace(*cursor, *cursor, (*cursor)[:10]+"A"+(*cursor)[11:], 1),
	} {
		resp, err := env.Client.AdminListUsersWithResponse(ctx, &api.AdminListUsersParams{Cursor: &bad}, servertest.Bearer(admin.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		servertest.WantProblem(t, name+" cursor", resp.HTTPResponse, resp.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	}
	// A cursor of another list is refused too.
	events, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{Limit: &limit}, servertest.Bearer(admin.AccessToken))
	if err != nil || events.JSON200 == nil || events.JSON200.NextCursor == nil {
		t.Fatalf("events = %d %s", events.StatusCode(), events.Body)
	}
	resp, err := env.Client.AdminListUsersWithResponse(ctx, &api.AdminListUsersParams{Cursor: events.JSON200.NextCursor}, servertest.Bearer(admin.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "another list's cursor", resp.HTTPResponse, resp.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
}

func TestRoleChangeKillsTokens(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	owner := env.Register(t, servertest.Email("demoted"))
	inviteOwner(t, env, owner)

	role := api.BrandRoleMANAGER
	upd, err := env.Client.AdminUpdateUserWithResponse(ctx, owner.User.Id, api.AdminUpdateUserJSONRequestBody{Role: &role}, servertest.Bearer(admin.AccessToken))
	if err != nil || upd.JSON200 == nil || upd.JSON200.Role != api.RoleMANAGER {
		t.Fatalf("role change = %d %s", upd.StatusCode(), upd.Body)
	}
	p := env.Profile(t, owner.AccessToken)
	servertest.WantProblem(t, "access token after role change", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	r := env.Refresh(t, owner.RefreshToken)
	servertest.WantProblem(t, "refresh token after role change", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	again := env.Login(t, string(owner.User.Email), servertest.Password)
	if got := servertest.DecodeClaims(t, again.AccessToken)["role"]; got != "MANAGER" {
		t.Errorf("new token's role = %v", got)
	}

	// An ADMIN's role is not the API's to change.
	upd, err = env.Client.AdminUpdateUserWithResponse(ctx, admin.User.Id, api.AdminUpdateUserJSONRequestBody{Role: &role}, servertest.Bearer(admin.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "admin's role", upd.HTTPResponse, upd.ApplicationproblemJSON422, 422, api.ProblemCodeInvalidRoleChange)
	// Nor is an unknown user.
	upd, err = env.Client.AdminUpdateUserWithResponse(ctx, uuid.New(), api.AdminUpdateUserJSONRequestBody{Role: &role}, servertest.Bearer(admin.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "unknown user", upd.HTTPResponse, upd.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
}

func TestLastOwnerIsKept(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	admin := env.Admin(t)
	owner := env.Register(t, servertest.Email("last"))

	role := api.BrandRoleSTAFF
	disabled := true
	for name, body := range map[string]api.AdminUpdateUserJSONRequestBody{
		"demote":  {Role: &role},
		"disable": {Disabled: &disabled},
	} {
		upd, err := env.Client.AdminUpdateUserWithResponse(ctx, owner.User.Id, body, servertest.Bearer(admin.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		servertest.WantProblem(t, name+" the last owner", upd.HTTPResponse, upd.ApplicationproblemJSON409, 409, api.ProblemCodeLastOwner)
	}
	if p := env.Profile(t, owner.AccessToken); p.StatusCode() != 200 {
		t.Errorf("a refused change still revoked the owner's tokens: %d", p.StatusCode())
	}

	// Two owners demoted at once: one of them must stay.
	second := inviteOwner(t, env, owner)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, id := range []uuid.UUID{owner.User.Id, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			upd, err := env.Client.AdminUpdateUserWithResponse(ctx, id, api.AdminUpdateUserJSONRequestBody{Role: &role}, servertest.Bearer(admin.AccessToken))
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = upd.StatusCode()
		}()
	}
	wg.Wait()
	if oneEach := (codes[0] == 200 && codes[1] == 409) || (codes[0] == 409 && codes[1] == 200); !oneEach {
		t.Errorf("concurrent demotions answered %v, want one 200 and one 409", codes)
	}
}

func TestAuthRateLimitPerClientIP(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.Auth.RateLimit = 3 })
	for i := 1; i <= 4; i++ {
		resp := env.PostJSON(t, "/auth/login", `{"email":"nobody@example.com","password":"whatever it is"}`,
			map[string]string{"X-Forwarded-For": "203.0.113." + string(rune('0'+i))}) // forged: no trusted proxy
		p := servertest.ReadProblem(t, resp)
		if i <= 3 && resp.StatusCode != 401 {
			t.Fatalf("attempt %d = %d", i, resp.StatusCode)
		}
		if i == 4 {
			if resp.StatusCode != 429 || p.Code != api.ProblemCodeRateLimited || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("attempt 4 = %d %+v (Retry-After %q)", resp.StatusCode, p, resp.Header.Get("Retry-After"))
			}
		}
	}
	// The budget refills: 3 a minute is one every 20 seconds.
	env.Clock.Advance(21 * time.Second)
	resp := env.PostJSON(t, "/auth/login", `{"email":"nobody@example.com","password":"whatever it is"}`, nil)
	_ = resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("after 21 s = %d, want the limit to allow one more", resp.StatusCode)
	}
}
