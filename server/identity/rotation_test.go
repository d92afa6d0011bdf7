package identity_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// The secrets a rotation moves to (servertest's are the old ones).
const (
	rotatedAccess  = "rotated-access-secret-0123456789abcdef01234"
	rotatedRefresh = "rotated-refresh-secret-0123456789abcdef0123"
)

// withSecrets runs a server with the given signing secrets and previous secrets (empty: none).
func withSecrets(access, refresh, accessPrev, refreshPrev string) servertest.Option {
	return func(c *server.Config) {
		c.Auth.AccessSecret, c.Auth.RefreshSecret = []byte(access), []byte(refresh)
		c.Auth.AccessSecretPrevious, c.Auth.RefreshSecretPrevious = []byte(accessPrev), []byte(refreshPrev)
	}
}

// TestSecretRotationAcrossInstances is the operator's rotation (JWT_*_SECRET_PREVIOUS), with
// three servers on one database standing for the instances before, during and after it: what the
// old secrets signed keeps working during the rotation (access tokens, refresh tokens, list
// cursors, and the refresh grace's byte-for-byte re-issue of a successor the old secret signed),
// everything new is signed with the new secrets only, refresh rotation stays single-use, and
// once the previous secrets are dropped, only what the new ones signed is accepted.
func TestSecretRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	before := servertest.NewOn(t, dbURL)
	during := servertest.NewOn(t, dbURL, withSecrets(rotatedAccess, rotatedRefresh, servertest.AccessSecret, servertest.RefreshSecret))
	after := servertest.NewOn(t, dbURL, withSecrets(rotatedAccess, rotatedRefresh, "", ""))

	owner := before.Register(t, servertest.Email("rotation"))
	brand := *owner.User.BrandId
	before.CreateProduct(t, owner, api.CreateProductRequest{Sku: "ROT-1", Name: "One", PriceAmount: 1})
	before.CreateProduct(t, owner, api.CreateProductRequest{Sku: "ROT-2", Name: "Two", PriceAmount: 2})
	limit := 1
	page, err := before.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Limit: &limit}, servertest.Bearer(owner.AccessToken))
	if err != nil || page.JSON200 == nil || page.JSON200.NextCursor == nil {
		t.Fatalf("first page: %v %d %s", err, page.StatusCode(), page.Body)
	}
	oldCursor := *page.JSON200.NextCursor

	// Before the rotation's instances restart, the old instance rotates a refresh token: its
	// successor is signed with the old secret.
	gen2 := before.Refresh(t, owner.RefreshToken).JSON200
	if gen2 == nil {
		t.Fatal("refresh on the old instance refused")
	}

	// During: the old access token, the old cursor and the lost-answer retry all still work.
	if r := during.Profile(t, owner.AccessToken); r.StatusCode() != http.StatusOK {
		t.Fatalf("an access token of the old secret during the rotation: %d %s", r.StatusCode(), r.Body)
	}
	next, err := during.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Limit: &limit, Cursor: &oldCursor}, servertest.Bearer(owner.AccessToken))
	if err != nil || next.JSON200 == nil || len(next.JSON200.Items) != 1 || next.JSON200.Items[0].Sku != "ROT-1" {
		t.Fatalf("a cursor of the old secret during the rotation: %v %d %s", err, next.StatusCode(), next.Body)
	}
	retry := during.Refresh(t, owner.RefreshToken).JSON200 // within REFRESH_REUSE_GRACE
	if retry == nil || retry.RefreshToken != gen2.RefreshToken {
		t.Fatal("the grace retry did not get the successor the old secret signed, byte for byte")
	}

	// A refresh token the old secret signed rotates; its successor is the new secret's.
	gen3 := during.Refresh(t, gen2.RefreshToken).JSON200
	if gen3 == nil {
		t.Fatal("a refresh token of the old secret refused during the rotation")
	}
	if r := before.Refresh(t, gen3.RefreshToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("the old secret accepts the new refresh token (%d): it was signed with the old one", r.StatusCode())
	}
	if r := before.Profile(t, gen3.AccessToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("the old secret accepts the new access token (%d): it was signed with the old one", r.StatusCode())
	}
	if r := after.Profile(t, gen3.AccessToken); r.StatusCode() != http.StatusOK {
		t.Fatalf("the new access token after the rotation: %d %s", r.StatusCode(), r.Body)
	}

	// Single use still: gen2 again, past the grace, is reuse and ends the session for both.
	during.Clock.Advance(11 * time.Second)
	reused := during.Refresh(t, gen2.RefreshToken)
	servertest.WantProblem(t, "an old-secret refresh token used twice", reused.HTTPResponse, reused.ApplicationproblemJSON401, 401, api.ProblemCodeRefreshTokenReused)
	if r := during.Refresh(t, gen3.RefreshToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("the newest token survived reuse detection: %d", r.StatusCode())
	}

	// After: the previous secrets are gone; only the new secrets' tokens and cursors work.
	fresh := after.Login(t, string(owner.User.Email), servertest.Password)
	if r := after.Profile(t, fresh.AccessToken); r.StatusCode() != http.StatusOK {
		t.Fatalf("a new login after the rotation: %d %s", r.StatusCode(), r.Body)
	}
	if r := after.Profile(t, owner.AccessToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("an access token of the dropped secret: %d, want 401", r.StatusCode())
	}
	stale, err := after.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Limit: &limit, Cursor: &oldCursor}, servertest.Bearer(fresh.AccessToken))
	if err != nil || stale.StatusCode() != http.StatusBadRequest {
		t.Fatalf("a cursor of the dropped secret: %v %d, want 400", err, stale.StatusCode())
	}
}
