package servertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
)

// APIKey creates an API key holding perms in owner's brand through the API; its secret is Key.
func (e *Env) APIKey(t testing.TB, owner api.AuthResponse, perms ...string) api.CreatedApiKey {
	t.Helper()
	resp, err := e.Client.CreateApiKeyWithResponse(context.Background(), *owner.User.BrandId,
		api.CreateApiKeyJSONRequestBody{Name: "test key", Permissions: perms}, Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create API key %v: %v %d %s", perms, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Call sends method path with `Authorization: Bearer <bearer>` (none when empty) and body as JSON
// (none when empty), for requests the generated client cannot make; the response is validated
// against the spec like every other. A problem answer is decoded into the returned Problem.
func (e *Env) Call(t testing.TB, method, path, bearer, body string) (*http.Response, api.Problem) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var p api.Problem
	if resp.StatusCode >= 400 {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatalf("%s %s: %d with an undecodable problem: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp, p
}
