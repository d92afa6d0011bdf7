package servertest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
)

// Profile reads the caller's profile with token through the generated client.
func (e *Env) Profile(t testing.TB, token string) *api.GetProfileResponse {
	t.Helper()
	resp, err := e.Client.GetProfileWithResponse(context.Background(), Bearer(token))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Refresh exchanges a refresh token through the generated client.
func (e *Env) Refresh(t testing.TB, token string) *api.RefreshResponse {
	t.Helper()
	resp, err := e.Client.RefreshWithResponse(context.Background(), api.RefreshJSONRequestBody{RefreshToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// WantProblem checks a problem answer: status, code, and the challenge header every 401 carries
// (RFC 6750 §3).
func WantProblem(t testing.TB, what string, resp *http.Response, p *api.Problem, status int, code api.ProblemCode) {
	t.Helper()
	if resp.StatusCode != status || p == nil || p.Code != code {
		var got api.ProblemCode
		if p != nil {
			got = p.Code
		}
		t.Fatalf("%s: got %d %q, want %d %q", what, resp.StatusCode, got, status, code)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("%s: 401 without WWW-Authenticate: Bearer", what)
	}
}
