package servertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
)

// Password is a password every test account may use: long enough, and not a common one.
const Password = "a fine test passphrase"

var seq atomic.Int64

// Email returns an address no other call returns.
func Email(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, seq.Add(1))
}

// Bearer authorizes a generated-client call with token.
func Bearer(token string) api.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// Register creates a brand owner (and brand) through the API and returns the session's tokens.
func (e *Env) Register(t testing.TB, email string) api.AuthResponse {
	t.Helper()
	resp, err := e.Client.RegisterWithResponse(context.Background(), api.RegisterJSONRequestBody{
		Email:    openapi_types.Email(email),
		Password: Password,
		Name:     "Test " + email,
	})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	if resp.JSON201 == nil {
		t.Fatalf("register %s: status %d: %s", email, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Login opens a session through the API.
func (e *Env) Login(t testing.TB, email, password string) api.AuthResponse {
	t.Helper()
	resp, err := e.Client.LoginWithResponse(context.Background(), api.LoginJSONRequestBody{
		Email:    openapi_types.Email(email),
		Password: password,
	})
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("login %s: status %d: %s", email, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// Admin creates an ADMIN the way operators do (not through the API) and logs it in.
func (e *Env) Admin(t testing.TB) api.AuthResponse {
	t.Helper()
	email := Email("admin")
	if _, err := server.CreateUser(context.Background(), e.Pool, e.Config.Auth.BcryptCost, server.NewUser{
		Email: email, Name: "Admin", Password: Password, Role: api.RoleADMIN,
	}); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return e.Login(t, email, Password)
}

// Member invites a new member with role into owner's brand through the API and returns the
// member's first session.
func (e *Env) Member(t testing.TB, owner api.AuthResponse, role api.InvitationRole) api.AuthResponse {
	t.Helper()
	email := Email(strings.ToLower(string(role)))
	inv, err := e.Client.CreateInvitationWithResponse(context.Background(), *owner.User.BrandId,
		api.CreateInvitationJSONRequestBody{Email: openapi_types.Email(email), Role: role}, Bearer(owner.AccessToken))
	if err != nil || inv.JSON201 == nil {
		t.Fatalf("invite %s: %v %d %s", email, err, inv.StatusCode(), inv.Body)
	}
	acc, err := e.Client.AcceptInviteWithResponse(context.Background(), api.AcceptInviteJSONRequestBody{
		InviteToken: inv.JSON201.InviteToken, Name: "Member " + email, Password: Password,
	})
	if err != nil || acc.JSON201 == nil {
		t.Fatalf("accept %s: %v %d %s", email, err, acc.StatusCode(), acc.Body)
	}
	return *acc.JSON201
}
