package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestBadInputIsAClearProblem sends every kind of bad request the foundation promises to refuse;
// each gets its 4xx problem, never a 5xx, and nothing is written.
func TestBadInputIsAClearProblem(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	valid := `{"email":"new@example.com","password":"a fine test passphrase","name":"New"}`

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        api.ProblemCode
		field       string
	}{
		{"malformed JSON", "POST", "/auth/register", "application/json", `{"email": "x@example.com",`, 400, api.ProblemCodeMalformedJson, ""},
		{"not JSON at all", "POST", "/auth/register", "application/json", `email=x@example.com`, 400, api.ProblemCodeMalformedJson, ""},
		{"duplicate keys", "POST", "/auth/register", "application/json", `{"email":"a@example.com","email":"b@example.com","password":"a fine test passphrase","name":"N"}`, 400, api.ProblemCodeMalformedJson, ""},
		{"trailing data", "POST", "/auth/register", "application/json", valid + `{"role":"ADMIN"}`, 400, api.ProblemCodeMalformedJson, ""},
		{"an array, not an object", "POST", "/auth/register", "application/json", `[` + valid + `]`, 400, api.ProblemCodeValidationFailed, "body"},
		{"a string, not an object", "POST", "/auth/register", "application/json", `"hello"`, 400, api.ProblemCodeValidationFailed, "body"},
		{"unknown field", "POST", "/auth/register", "application/json", `{"email":"u@example.com","password":"a fine test passphrase","name":"N","isAdmin":true}`, 400, api.ProblemCodeValidationFailed, "isAdmin"},
		{"wrong type", "POST", "/auth/register", "application/json", `{"email":"w@example.com","password":12345678,"name":"N"}`, 400, api.ProblemCodeValidationFailed, "password"},
		{"missing field", "POST", "/auth/register", "application/json", `{"email":"m@example.com","password":"a fine test passphrase"}`, 400, api.ProblemCodeValidationFailed, "name"},
		{"empty body", "POST", "/auth/register", "application/json", ``, 400, api.ProblemCodeValidationFailed, "body"},
		{"2 MiB body", "POST", "/auth/register", "application/json", `{"email":"big@example.com","password":"a fine test passphrase","name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, api.ProblemCodePayloadTooLarge, ""},
		{"wrong content type", "POST", "/auth/register", "text/plain", valid, 415, api.ProblemCodeUnsupportedMediaType, ""},
		{"form content type", "POST", "/auth/register", "application/x-www-form-urlencoded", "email=x", 415, api.ProblemCodeUnsupportedMediaType, ""},
		{"unknown route", "GET", "/auth/nothing-here", "", "", 404, api.ProblemCodeNotFound, ""},
		{"wrong method", "PUT", "/auth/register", "application/json", valid, 405, api.ProblemCodeMethodNotAllowed, ""},
		{"bad path parameter", "DELETE", "/auth/sessions/not-a-uuid", "", "", 401, api.ProblemCodeUnauthenticated, ""},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, env.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := servertest.ReadProblem(t, resp)
		if resp.StatusCode != c.status || p.Code != c.code || p.Status != c.status || p.RequestId == "" {
			t.Errorf("%s: got %d %+v, want %d %s", c.name, resp.StatusCode, p, c.status, c.code)
			continue
		}
		if c.field != "" {
			if p.Errors == nil || len(*p.Errors) == 0 || (*p.Errors)[0].Field != c.field {
				t.Errorf("%s: errors = %+v, want field %q", c.name, p.Errors, c.field)
			}
		}
	}

	// None of it created an account.
	admin := env.Admin(t)
	users, err := env.Client.AdminListUsersWithResponse(ctx, nil, servertest.Bearer(admin.AccessToken))
	if err != nil || users.JSON200 == nil || len(users.JSON200.Items) != 1 {
		t.Fatalf("users after bad input = %d %s", users.StatusCode(), users.Body)
	}

	// A bad path parameter from an authenticated caller is a 400 naming the parameter.
	req, _ := http.NewRequest(http.MethodDelete, env.URL+"/auth/sessions/not-a-uuid", nil)
	req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := servertest.ReadProblem(t, resp)
	if resp.StatusCode != 400 || p.Errors == nil || (*p.Errors)[0].Field != "path.sessionId" {
		t.Errorf("bad session id = %d %+v", resp.StatusCode, p)
	}
	// So is a bad query parameter.
	req, _ = http.NewRequest(http.MethodGet, env.URL+"/admin/users?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
	resp, err = env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p = servertest.ReadProblem(t, resp)
	if resp.StatusCode != 400 || p.Errors == nil || (*p.Errors)[0].Field != "query.limit" {
		t.Errorf("limit=1000 = %d %+v", resp.StatusCode, p)
	}
}

// TestValidationNeverEchoesPasswords: a refused password is named, never quoted, in the answer
// and in the log.
func TestValidationNeverEchoesPasswords(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	secret := "Sup3r-secret-but-1-char-too-long-for-bcrypt-72-bytes-xxxxxxxxxxxxxxxxxxxx"
	resp := postJSON(t, env, "/auth/register", `{"email":"e@example.com","password":"`+secret+`","name":"N"}`, nil)
	p := servertest.ReadProblem(t, resp)
	if resp.StatusCode != 400 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if strings.Contains(*p.Detail, "Sup3r") || strings.Contains(env.Logs(), "Sup3r") {
		t.Error("the password appears in the problem or the log")
	}
}
