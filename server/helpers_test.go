package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// postJSON sends a raw body, for the requests the generated client would never make.
func postJSON(t *testing.T, env *servertest.Env, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	return env.PostJSON(t, path, body, headers)
}
