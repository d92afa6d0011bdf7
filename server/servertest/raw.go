package servertest

import (
	"net/http"
	"strings"
	"testing"
)

// PostJSON sends body as it is, for the requests the generated client would never make
// (malformed JSON, unknown fields, forged headers). The response is still checked against the
// spec.
func (e *Env) PostJSON(t testing.TB, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
