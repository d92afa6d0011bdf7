package identity_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var keyForm = regexp.MustCompile(`^ecp_live_[A-Za-z0-9_-]{43}$`)

// refused asserts a 401 with the code and a WWW-Authenticate challenge.
func refused(t *testing.T, resp *http.Response, p api.Problem, code api.ProblemCode) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized || p.Code != code {
		t.Fatalf("status %d code %q, want 401 %q (%v)", resp.StatusCode, p.Code, code, p.Detail)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Fatalf("401 without a Bearer challenge: WWW-Authenticate %q", got)
	}
}

func status(t *testing.T, env *servertest.Env, method, path, bearer, body string) (int, api.Problem) {
	t.Helper()
	resp, p := env.Call(t, method, path, bearer, body)
	return resp.StatusCode, p
}

// TestAPIKeyLifecycle: the secret is shown once and works as a bearer credential on its brand,
// lastUsedAt is written at most once a minute, and the audit log names the key that acted.
func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()
	owner := env.Register(t, servertest.Email("key-owner"))
	brand := *owner.User.BrandId
	expires := env.Clock.Now().Add(90 * 24 * time.Hour)

	created, err := env.Client.CreateApiKeyWithResponse(ctx, brand, api.CreateApiKeyJSONRequestBody{
		Name: "Storefront sync", Permissions: []string{"products:read", "members:write"}, ExpiresAt: &expires,
	}, servertest.Bearer(owner.AccessToken))
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
	}
	key := created.JSON201
	if !keyForm.MatchString(key.Key) {
		t.Fatalf("key %q is not ecp_live_ + 43 base64url characters", key.Key)
	}
	if got := created.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store: the answer holds a secret", got)
	}
	if !strings.HasPrefix(key.Key, key.ApiKey.Hint) || len(key.ApiKey.Hint) != len("ecp_live_")+4 {
		t.Errorf("hint %q is not the key's first characters", key.ApiKey.Hint)
	}
	if want := []string{"members:write", "products:read"}; !slices.Equal(key.ApiKey.Permissions, want) {
		t.Errorf("permissions %v, want %v", key.ApiKey.Permissions, want)
	}
	if key.ApiKey.CreatedBy != owner.User.Id || key.ApiKey.ExpiresAt == nil || !key.ApiKey.ExpiresAt.Equal(expires) || key.ApiKey.LastUsedAt != nil {
		t.Errorf("created key %+v", key.ApiKey)
	}
	var stored []byte
	if err := env.Pool.QueryRow(ctx, "SELECT secret_hash FROM api_keys WHERE id = $1", key.ApiKey.Id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), key.Key[len("ecp_live_"):]) || len(stored) != 32 {
		t.Fatalf("the stored form is not a 32-byte digest: %d bytes", len(stored))
	}

	lastUsed := func() *time.Time {
		t.Helper()
		list, err := env.Client.ListApiKeysWithResponse(ctx, brand, nil, servertest.Bearer(owner.AccessToken))
		if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 {
			t.Fatalf("list: %v %d %s", err, list.StatusCode(), list.Body)
		}
		if strings.Contains(string(list.Body), key.Key) {
			t.Fatal("the list shows the secret")
		}
		return list.JSON200.Items[0].LastUsedAt
	}
	use := func() {
		t.Helper()
		if got, p := status(t, env, http.MethodGet, "/brands/"+brand.String()+"/products", key.Key, ""); got != http.StatusOK {
			t.Fatalf("GET products with the key: %d %v", got, p.Detail)
		}
	}
	first := env.Clock.Now()
	use()
	if got := lastUsed(); got == nil || !got.Equal(first) {
		t.Fatalf("lastUsedAt after the first use = %v, want %v", got, first)
	}
	env.Clock.Advance(30 * time.Second)
	use()
	use()
	if got := lastUsed(); got == nil || !got.Equal(first) {
		t.Fatalf("lastUsedAt 30 s later = %v, want still %v (at most one write a minute)", got, first)
	}
	env.Clock.Advance(31 * time.Second)
	use()
	if got := lastUsed(); got == nil || !got.Equal(env.Clock.Now()) {
		t.Fatalf("lastUsedAt past the minute = %v, want %v", got, env.Clock.Now())
	}

	// An audited action through the key: the event names the key as actor, and the user it acts
	// for; the key's creation is audited too.
	r, err := env.Client.CreateInvitationWithResponse(ctx, brand, api.CreateInvitationJSONRequestBody{
		Email: "grace@example.com", Role: api.InvitationRoleSTAFF,
	}, servertest.Bearer(key.Key))
	if err != nil || r.JSON201 == nil {
		t.Fatalf("invite with the key: %v %d %s", err, r.StatusCode(), r.Body)
	}
	admin := env.Admin(t)
	events, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{UserId: &owner.User.Id}, servertest.Bearer(admin.AccessToken))
	if err != nil || events.JSON200 == nil {
		t.Fatalf("audit: %v %d %s", err, events.StatusCode(), events.Body)
	}
	byType := map[api.AuditEventType]api.AuditEvent{}
	for _, e := range events.JSON200.Items {
		byType[e.Type] = e
	}
	inv, ok := byType[api.AuditEventTypeInvitationCreated]
	if !ok || inv.ActorApiKeyId == nil || *inv.ActorApiKeyId != key.ApiKey.Id || inv.ActorId == nil || *inv.ActorId != owner.User.Id || inv.SessionId != nil {
		t.Errorf("invitation_created by the key: %+v", inv)
	}
	made, ok := byType[api.AuditEventTypeApiKeyCreated]
	if !ok || made.ApiKeyId == nil || *made.ApiKeyId != key.ApiKey.Id || made.ActorApiKeyId != nil || made.ActorId == nil || *made.ActorId != owner.User.Id {
		t.Errorf("api_key_created: %+v", made)
	}

	if r, err := env.Client.RevokeApiKeyWithResponse(ctx, brand, key.ApiKey.Id, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v %d %s", err, r.StatusCode(), r.Body)
	}
	// Again: nothing changes, nothing more is audited.
	if r, err := env.Client.RevokeApiKeyWithResponse(ctx, brand, key.ApiKey.Id, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke again: %v %d %s", err, r.StatusCode(), r.Body)
	}
	typ := api.AuditEventTypeApiKeyRevoked
	revokes, err := env.Client.AdminListAuditEventsWithResponse(ctx, &api.AdminListAuditEventsParams{Type: &typ}, servertest.Bearer(admin.AccessToken))
	if err != nil || revokes.JSON200 == nil || len(revokes.JSON200.Items) != 1 || *revokes.JSON200.Items[0].ApiKeyId != key.ApiKey.Id {
		t.Fatalf("api_key_revoked events: %v %s", err, revokes.Body)
	}
}

// TestAPIKeyAttacks: what a key must never do, and what a key-maker must never be given.
func TestAPIKeyAttacks(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()
	owner := env.Register(t, servertest.Email("key-attacks"))
	brand := "/brands/" + owner.User.BrandId.String()
	other := env.Register(t, servertest.Email("key-other"))
	otherBrand := "/brands/" + other.User.BrandId.String()
	reader := env.APIKey(t, owner, "inventory:read")

	t.Run("a read-only key writes nothing", func(t *testing.T) {
		if got, p := status(t, env, http.MethodGet, brand+"/inventory", reader.Key, ""); got != http.StatusOK {
			t.Fatalf("GET inventory: %d %v", got, p.Detail)
		}
		writes := []struct{ method, path, body string }{
			{http.MethodPost, brand + "/inventory/adjustments", `{"kind":"receipt","lines":[{"productId":"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a60","locationId":"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a61","delta":1}]}`},
			{http.MethodPost, brand + "/products", `{"sku":"KEY-1","name":"Key product","priceAmount":100}`},
			{http.MethodPost, brand + "/locations", `{"code":"WH","name":"Warehouse"}`},
			{http.MethodGet, brand + "/products", ""}, // a read it was not given either
			{http.MethodGet, brand + "/api-keys", ""},
			{http.MethodPost, brand + "/api-keys", `{"name":"successor","permissions":["inventory:read"]}`},
		}
		for _, w := range writes {
			if got, p := status(t, env, w.method, w.path, reader.Key, w.body); got != http.StatusForbidden || p.Code != api.ProblemCodeForbidden {
				t.Errorf("%s %s: %d %q, want 403", w.method, w.path, got, p.Code)
			}
		}
		var keys int
		if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM api_keys").Scan(&keys); err != nil || keys != 1 {
			t.Errorf("keys in the database: %d %v, want the one", keys, err)
		}
	})

	t.Run("another brand is a 404", func(t *testing.T) {
		for _, path := range []string{otherBrand + "/inventory", otherBrand, otherBrand + "/products"} {
			if got, p := status(t, env, http.MethodGet, path, reader.Key, ""); got != http.StatusNotFound || p.Code != api.ProblemCodeNotFound {
				t.Errorf("GET %s: %d %q, want 404", path, got, p.Code)
			}
		}
	})

	t.Run("an ADMIN's key is held to its brand", func(t *testing.T) {
		admin := env.Admin(t)
		r, err := env.Client.CreateApiKeyWithResponse(ctx, *owner.User.BrandId, api.CreateApiKeyJSONRequestBody{
			Name: "support", Permissions: []string{"inventory:read"},
		}, servertest.Bearer(admin.AccessToken))
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create as ADMIN: %v %d %s", err, r.StatusCode(), r.Body)
		}
		if got, _ := status(t, env, http.MethodGet, brand+"/inventory", r.JSON201.Key, ""); got != http.StatusOK {
			t.Fatalf("its brand: %d", got)
		}
		if got, _ := status(t, env, http.MethodGet, otherBrand+"/inventory", r.JSON201.Key, ""); got != http.StatusNotFound {
			t.Fatalf("another brand: %d, want 404", got)
		}
		resp, p := env.Call(t, http.MethodGet, "/admin/users", r.JSON201.Key, "")
		refused(t, resp, p, api.ProblemCodeApiKeyNotAccepted)
		if r, err := env.Client.RevokeApiKeyWithResponse(ctx, *owner.User.BrandId, r.JSON201.ApiKey.Id, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("revoke: %v %d", err, r.StatusCode())
		}
	})

	t.Run("never on /auth, /admin or /brands", func(t *testing.T) {
		for _, path := range []string{"/auth/profile", "/auth/sessions", "/admin/users", "/brands"} {
			resp, p := env.Call(t, http.MethodGet, path, reader.Key, "")
			refused(t, resp, p, api.ProblemCodeApiKeyNotAccepted)
		}
		resp, p := env.Call(t, http.MethodPost, "/auth/logout-all", reader.Key, "")
		refused(t, resp, p, api.ProblemCodeApiKeyNotAccepted)
	})

	t.Run("forged and malformed keys", func(t *testing.T) {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		last := reader.Key[len(reader.Key)-1]
		flipped := byte('A')
		if last == 'A' {
			flipped = 'B'
		}
		for name, key := range map[string]string{
			"right form, wrong secret":          "ecp_live_" + base64.RawURLEncoding.EncodeToString(secret),
			"a real key, one character changed": reader.Key[:len(reader.Key)-1] + string(flipped),
			"too short":                         reader.Key[:len(reader.Key)-1],
			"too long":                          reader.Key + "A",
			"not base64url":                     "ecp_live_" + strings.Repeat("!", 43),
			"the prefix alone":                  "ecp_live_",
		} {
			resp, p := env.Call(t, http.MethodGet, brand+"/inventory", key, "")
			if resp.StatusCode != http.StatusUnauthorized || p.Code != api.ProblemCodeInvalidApiKey {
				t.Errorf("%s: %d %q, want 401 invalid_api_key", name, resp.StatusCode, p.Code)
			}
		}
	})

	t.Run("revoked, at once", func(t *testing.T) {
		key := env.APIKey(t, owner, "inventory:read")
		// Used twice, so that the instance holds it in memory.
		for range 2 {
			if got, _ := status(t, env, http.MethodGet, brand+"/inventory", key.Key, ""); got != http.StatusOK {
				t.Fatalf("before: %d", got)
			}
		}
		if r, err := env.Client.RevokeApiKeyWithResponse(ctx, *owner.User.BrandId, key.ApiKey.Id, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("revoke: %v %d", err, r.StatusCode())
		}
		resp, p := env.Call(t, http.MethodGet, brand+"/inventory", key.Key, "")
		refused(t, resp, p, api.ProblemCodeApiKeyRevoked)
	})

	t.Run("expired", func(t *testing.T) {
		expires := env.Clock.Now().Add(time.Hour)
		r, err := env.Client.CreateApiKeyWithResponse(ctx, *owner.User.BrandId, api.CreateApiKeyJSONRequestBody{
			Name: "short-lived", Permissions: []string{"inventory:read"}, ExpiresAt: &expires,
		}, servertest.Bearer(owner.AccessToken))
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create: %v %d %s", err, r.StatusCode(), r.Body)
		}
		for range 2 { // held in memory: the clock is checked on every hit
			if got, _ := status(t, env, http.MethodGet, brand+"/inventory", r.JSON201.Key, ""); got != http.StatusOK {
				t.Fatalf("before expiry: %d", got)
			}
		}
		env.Clock.Advance(time.Hour)
		resp, p := env.Call(t, http.MethodGet, brand+"/inventory", r.JSON201.Key, "")
		refused(t, resp, p, api.ProblemCodeApiKeyExpired)
		// The access tokens expired with the hour; the cases after need fresh ones.
		owner = env.Login(t, string(owner.User.Email), servertest.Password)
		other = env.Login(t, string(other.User.Email), servertest.Password)
	})

	t.Run("create refuses what it must not grant", func(t *testing.T) {
		cases := []struct {
			name, body string
			status     int
			code       api.ProblemCode
			field      string
		}{
			{"an extra field", `{"name":"k","permissions":["inventory:read"],"brandId":"` + other.User.BrandId.String() + `"}`, 400, api.ProblemCodeValidationFailed, "brandId"},
			{"a chosen creator", `{"name":"k","permissions":["inventory:read"],"createdBy":"` + other.User.Id.String() + `"}`, 400, api.ProblemCodeValidationFailed, "createdBy"},
			{"a chosen secret", `{"name":"k","permissions":["inventory:read"],"key":"ecp_live_` + strings.Repeat("A", 43) + `"}`, 400, api.ProblemCodeValidationFailed, "key"},
			{"an admin permission", `{"name":"k","permissions":["inventory:read","users:admin"]}`, 422, api.ProblemCodePermissionNotHeld, "permissions[1]"},
			{"key management", `{"name":"k","permissions":["apikeys:manage"]}`, 422, api.ProblemCodePermissionNotHeld, "permissions[0]"},
			{"an unknown permission", `{"name":"k","permissions":["stock:steal"]}`, 422, api.ProblemCodePermissionNotHeld, "permissions[0]"},
			{"no permission", `{"name":"k","permissions":[]}`, 400, api.ProblemCodeValidationFailed, "permissions"},
			{"an expiry in the past", `{"name":"k","permissions":["inventory:read"],"expiresAt":"2026-11-25T09:59:59Z"}`, 400, api.ProblemCodeValidationFailed, "expiresAt"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, p := env.Call(t, http.MethodPost, brand+"/api-keys", owner.AccessToken, c.body)
				if resp.StatusCode != c.status || p.Code != c.code {
					t.Fatalf("%d %q, want %d %q (%v)", resp.StatusCode, p.Code, c.status, c.code, p.Detail)
				}
				if p.Errors == nil || !slices.ContainsFunc(*p.Errors, func(e api.FieldError) bool { return e.Field == c.field }) {
					t.Fatalf("errors %v do not name %s", p.Errors, c.field)
				}
			})
		}
		var keys int
		if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE brand_id = $1", owner.User.BrandId).Scan(&keys); err != nil || keys != 4 {
			t.Errorf("keys of the brand: %d %v, want the 4 made by the cases before", keys, err)
		}
	})

	t.Run("only an owner makes keys", func(t *testing.T) {
		for _, role := range []api.InvitationRole{api.InvitationRoleMANAGER, api.InvitationRoleSTAFF} {
			member := env.Member(t, owner, role)
			for _, w := range []struct{ method, body string }{{http.MethodPost, `{"name":"k","permissions":["inventory:read"]}`}, {http.MethodGet, ""}} {
				if got, p := status(t, env, w.method, brand+"/api-keys", member.AccessToken, w.body); got != http.StatusForbidden {
					t.Errorf("%s %s api-keys: %d %q, want 403", role, w.method, got, p.Code)
				}
			}
			if got, _ := status(t, env, http.MethodDelete, brand+"/api-keys/"+reader.ApiKey.Id.String(), member.AccessToken, ""); got != http.StatusForbidden {
				t.Errorf("%s DELETE: %d, want 403", role, got)
			}
		}
	})

	t.Run("another brand's key cannot be revoked", func(t *testing.T) {
		theirs := env.APIKey(t, other, "inventory:read")
		for _, id := range []uuid.UUID{theirs.ApiKey.Id, uuid.Must(uuid.NewV7())} {
			if got, p := status(t, env, http.MethodDelete, brand+"/api-keys/"+id.String(), owner.AccessToken, ""); got != http.StatusNotFound || p.Code != api.ProblemCodeNotFound {
				t.Errorf("DELETE %s: %d %q, want 404", id, got, p.Code)
			}
		}
		if got, _ := status(t, env, http.MethodGet, otherBrand+"/inventory", theirs.Key, ""); got != http.StatusOK {
			t.Errorf("their key after the attempt: %d, want 200", got)
		}
	})
}

// TestAPIKeyFollowsItsMaker: a key never does more than the user it acts for may do now.
func TestAPIKeyFollowsItsMaker(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()
	owner := env.Register(t, servertest.Email("key-maker"))
	brand := *owner.User.BrandId
	second := env.Member(t, owner, api.InvitationRoleMANAGER)
	promote := func(role api.BrandRole) {
		t.Helper()
		r, err := env.Client.UpdateMemberWithResponse(ctx, brand, second.User.Id, api.UpdateMemberJSONRequestBody{Role: role}, servertest.Bearer(owner.AccessToken))
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("role %s: %v %d %s", role, err, r.StatusCode(), r.Body)
		}
	}
	promote(api.BrandRoleBRANDOWNER)
	login := env.Login(t, string(second.User.Email), servertest.Password)
	key := env.APIKey(t, login, "products:read", "products:write")
	products := "/brands/" + brand.String() + "/products"
	write := func() int {
		t.Helper()
		got, _ := status(t, env, http.MethodPost, products, key.Key, `{"sku":"SKU-`+uuid.NewString()[:8]+`","name":"A product","priceAmount":100}`)
		return got
	}
	if got := write(); got != http.StatusCreated {
		t.Fatalf("write as an owner's key: %d", got)
	}
	promote(api.BrandRoleSTAFF) // staff may not edit the catalog
	if got := write(); got != http.StatusForbidden {
		t.Fatalf("write after the maker became STAFF: %d, want 403", got)
	}
	if got, _ := status(t, env, http.MethodGet, products, key.Key, ""); got != http.StatusOK {
		t.Fatalf("read after the maker became STAFF: %d, want 200", got)
	}
	if r, err := env.Client.RemoveMemberWithResponse(ctx, brand, second.User.Id, servertest.Bearer(owner.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("remove: %v %d", err, r.StatusCode())
	}
	resp, p := env.Call(t, http.MethodGet, products, key.Key, "")
	refused(t, resp, p, api.ProblemCodeApiKeyRevoked)
}

// TestAPIKeyRevocationAcrossInstances: two instances on one database; the other instance, whose
// cache holds the key, refuses it within the session cache's bound (1 s after the revocation's
// answer at the latest), and the revoking one at once.
func TestAPIKeyRevocationAcrossInstances(t *testing.T) {
	t.Parallel()
	url := servertest.Database(t)
	a, b := servertest.NewOn(t, url), servertest.NewOn(t, url)
	owner := a.Register(t, servertest.Email("key-cluster"))
	key := a.APIKey(t, owner, "inventory:read")
	path := "/brands/" + owner.User.BrandId.String() + "/inventory"

	// B answers the key from its memory: a second request is a cache hit.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _ := status(t, b, http.MethodGet, path, key.Key, ""); got != http.StatusOK {
			t.Fatalf("B before: %d", got)
		}
		hits := b.SessionCache.Stats().Hits
		if got, _ := status(t, b, http.MethodGet, path, key.Key, ""); got != http.StatusOK {
			t.Fatalf("B before: %d", got)
		}
		if b.SessionCache.Stats().Hits > hits && b.SessionCache.Stats().Keys == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never answered the key from its cache: %+v", b.SessionCache.Stats())
		}
	}

	r, err := a.Client.RevokeApiKeyWithResponse(context.Background(), *owner.User.BrandId, key.ApiKey.Id, servertest.Bearer(owner.AccessToken))
	if err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke on A: %v %d", err, r.StatusCode())
	}
	answered := time.Now()
	resp, p := a.Call(t, http.MethodGet, path, key.Key, "")
	refused(t, resp, p, api.ProblemCodeApiKeyRevoked)

	// B: asked until it refuses. The cache's promise is that a request checked more than 750 ms
	// after the commit (before the answer above) is refused, however loaded the machine.
	for {
		sent := time.Now()
		resp, p := b.Call(t, http.MethodGet, path, key.Key, "")
		if resp.StatusCode == http.StatusUnauthorized {
			refused(t, resp, p, api.ProblemCodeApiKeyRevoked)
			t.Logf("B refused the revoked key %s after A's answer", sent.Sub(answered))
			return
		}
		if resp.StatusCode != http.StatusOK || sent.Sub(answered) > time.Second {
			t.Fatalf("B %s after the revocation: %d, want 401", sent.Sub(answered), resp.StatusCode)
		}
	}
}
