package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/token"
)

var (
	oldAccess  = []byte("old-access-secret-0123456789abcdef01234567")
	newAccess  = []byte("new-access-secret-0123456789abcdef01234567")
	oldRefresh = []byte("old-refresh-secret-0123456789abcdef0123456")
	newRefresh = []byte("new-refresh-secret-0123456789abcdef0123456")
)

func tokensWith(t *testing.T, access, refresh, accessPrev, refreshPrev []byte) *token.Tokens {
	t.Helper()
	tk, err := token.New(token.Config{
		AccessSecret: access, RefreshSecret: refresh,
		AccessSecretPrevious: accessPrev, RefreshSecretPrevious: refreshPrev,
		Issuer: "ecompointer", Audience: "ecompointer-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: 168 * time.Hour, Leeway: 30 * time.Second,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestSecretRotation: with the old secrets kept as previous, tokens the old secrets signed still
// verify (access and refresh), new ones are signed with the new secrets only (the old
// configuration refuses them), and once the previous secrets are dropped the old tokens are
// refused: also when this process had remembered the access token as verified (the cache belongs
// to one configuration, so dropping the secret takes a new Tokens, as it takes a restart).
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	before := tokensWith(t, oldAccess, oldRefresh, nil, nil)
	during := tokensWith(t, newAccess, newRefresh, oldAccess, oldRefresh)
	after := tokensWith(t, newAccess, newRefresh, nil, nil)

	a := token.Access{UserID: uuid.New(), SessionID: uuid.New(), Role: "BRAND_OWNER", Version: 1}
	r := token.Refresh{UserID: a.UserID, SessionID: a.SessionID, Generation: 1, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	oldAccessTok, _, err := before.SignAccess(a)
	if err != nil {
		t.Fatal(err)
	}
	oldRefreshTok, err := before.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}

	// Twice: the second answer comes from the verified-token cache and must agree.
	for range 2 {
		if got, err := during.VerifyAccess(oldAccessTok); err != nil || got.UserID != a.UserID {
			t.Fatalf("an access token of the old secret during the rotation: %v", err)
		}
	}
	if got, err := during.VerifyRefresh(oldRefreshTok); err != nil || got.Generation != 1 {
		t.Fatalf("a refresh token of the old secret during the rotation: %v", err)
	}

	newAccessTok, _, err := during.SignAccess(a)
	if err != nil {
		t.Fatal(err)
	}
	newRefreshTok, err := during.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}
	if newRefreshTok == oldRefreshTok {
		t.Fatal("the refresh token was signed with the previous secret")
	}
	if _, err := before.VerifyAccess(newAccessTok); err == nil {
		t.Error("a new access token verifies under the old secret: it was signed with it")
	}
	if _, err := before.VerifyRefresh(newRefreshTok); err == nil {
		t.Error("a new refresh token verifies under the old secret: it was signed with it")
	}
	if _, err := after.VerifyAccess(newAccessTok); err != nil {
		t.Errorf("a new access token after the rotation: %v", err)
	}

	if _, err := after.VerifyAccess(oldAccessTok); err == nil {
		t.Error("with the previous secret dropped, an old access token still verifies")
	}
	if _, err := after.VerifyRefresh(oldRefreshTok); err == nil {
		t.Error("with the previous secret dropped, an old refresh token still verifies")
	}

	// Types stay apart across generations: the old refresh secret is not an access key.
	swapped := tokensWith(t, newAccess, newRefresh, oldRefresh, oldAccess)
	if _, err := swapped.VerifyAccess(oldRefreshTok); err == nil {
		t.Error("a refresh token verifies as an access token")
	}
}

// TestReissueRefreshFindsTheSpellingThatWasStored: the refresh grace re-issues a successor byte
// for byte; a successor signed before the rotation is found under the previous secret.
func TestReissueRefreshFindsTheSpellingThatWasStored(t *testing.T) {
	t.Parallel()
	before := tokensWith(t, oldAccess, oldRefresh, nil, nil)
	during := tokensWith(t, newAccess, newRefresh, oldAccess, oldRefresh)
	r := token.Refresh{UserID: uuid.New(), SessionID: uuid.New(), Generation: 2, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	stored, err := before.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }
	if got, ok, err := during.ReissueRefresh(r, is(stored)); err != nil || !ok || got != stored {
		t.Fatalf("re-issue of a successor signed before the rotation: %v %v", ok, err)
	}
	fresh, err := during.SignRefresh(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := during.ReissueRefresh(r, is(fresh)); err != nil || !ok || got != fresh {
		t.Fatalf("re-issue of a successor signed after the rotation: %v %v", ok, err)
	}
	if _, ok, _ := tokensWith(t, newAccess, newRefresh, nil, nil).ReissueRefresh(r, is(stored)); ok {
		t.Error("without the previous secret, the old spelling is re-issued")
	}
}

func TestPreviousSecretsAreChecked(t *testing.T) {
	t.Parallel()
	base := func() token.Config {
		return token.Config{
			AccessSecret: newAccess, RefreshSecret: newRefresh, Issuer: "i", Audience: "a",
			AccessTTL: time.Minute, RefreshTTL: time.Hour,
		}
	}
	cases := map[string]func(*token.Config){
		"short previous access":                 func(c *token.Config) { c.AccessSecretPrevious = []byte("short") },
		"short previous refresh":                func(c *token.Config) { c.RefreshSecretPrevious = []byte(strings.Repeat("r", 31)) },
		"previous access is the refresh secret": func(c *token.Config) { c.AccessSecretPrevious = newRefresh },
		"previous refresh is the access secret": func(c *token.Config) { c.RefreshSecretPrevious = newAccess },
		"both previous equal":                   func(c *token.Config) { c.AccessSecretPrevious, c.RefreshSecretPrevious = oldAccess, oldAccess },
	}
	for name, mutate := range cases {
		cfg := base()
		mutate(&cfg)
		if _, err := token.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := base()
	cfg.AccessSecretPrevious, cfg.RefreshSecretPrevious = newAccess, newRefresh // the rotation's end
	if _, err := token.New(cfg); err != nil {
		t.Errorf("previous equal to current: %v", err)
	}
}
