package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server/servertest"
)

// postJSON sends a raw body, for the requests the generated client would never make.
func postJSON(t *testing.T, env *servertest.Env, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
