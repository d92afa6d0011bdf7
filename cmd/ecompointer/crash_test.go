package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// childEnv marks the test binary started as `ecompointer serve` (see TestMain): a real process
// the test can SIGKILL, without building the binary again.
const childEnv = "ECOMPOINTER_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// main() itself, minus the signal handling a SIGKILL never reaches anyway.
		if err := run(context.Background(), []string{"ecompointer", "serve"}, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "ecompointer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveProcess starts `ecompointer serve` as a child process with env and waits until it is ready.
func serveProcess(t *testing.T, name string, env map[string]string) (*exec.Cmd, string) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$") //nolint:gosec // the test binary itself
	cmd.Env = []string{childEnv + "=1", "PORT=" + fmt.Sprint(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-exited // killed: a signal, by the test or by this clean-up
		if t.Failed() {
			t.Logf("%s ended: %v", name, err)
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(3 * time.Minute) // a liveness bound on a loaded machine
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited before it was ready: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 3 minutes", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// delivery is one request the receiver got.
type delivery struct {
	id     string
	header http.Header
	body   []byte
}

// TestDeliverySurvivesKill9 is issue 19's "kill -9 of the server between commit and delivery,
// then a restart: delivered". The first process commits a product and starts delivering its
// event; the receiver holds that request open, and the process is SIGKILLed while it waits. A
// second process on the same database must deliver the same event (same webhook-id).
func TestDeliverySurvivesKill9(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	env := map[string]string{
		"DATABASE_URL":             dbURL,
		"DATABASE_APP_ROLE":        servertest.AppRole,
		"LOG_FORMAT":               "json",
		"BCRYPT_COST":              "4",
		"JWT_ACCESS_SECRET":        strings.Repeat("a", 64),
		"JWT_REFRESH_SECRET":       strings.Repeat("r", 64),
		"WEBHOOK_DELIVERY":         "on",
		"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
		"WEBHOOK_ALLOW_HTTP":       "true",
		"WEBHOOK_RETRY_SCHEDULE":   "1s,1s,1s",
	}

	// The receiver holds every request open until killed is closed (the first process dies with
	// its request unanswered), then answers 200.
	killed := make(chan struct{})
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{id: r.Header.Get("webhook-id"), header: r.Header.Clone(), body: b}
		select {
		case <-killed:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done(): // the sender died
		}
	}))
	t.Cleanup(recv.Close)

	first, base := serveProcess(t, "first process", env)
	client, err := api.NewClientWithResponses(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	email := servertest.Email("crash")
	reg, err := client.RegisterWithResponse(ctx, api.RegisterJSONRequestBody{Email: openapi_types.Email(email), Password: servertest.Password, Name: "Crash"})
	if err != nil || reg.JSON201 == nil {
		t.Fatalf("register = %v %d %s", err, reg.StatusCode(), reg.Body)
	}
	brand, auth := *reg.JSON201.User.BrandId, servertest.Bearer(reg.JSON201.AccessToken)
	ep, err := client.CreateWebhookEndpointWithResponse(ctx, brand, api.CreateWebhookEndpointRequest{
		Url: recv.URL, EventTypes: []string{string(api.EventTypeProductCreated)},
	}, auth)
	if err != nil || ep.JSON201 == nil || ep.JSON201.Secret == nil {
		t.Fatalf("create endpoint = %v %d %s", err, ep.StatusCode(), ep.Body)
	}
	prod, err := client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{Sku: "KILL-9", Name: "Kill 9", PriceAmount: 100}, auth)
	if err != nil || prod.JSON201 == nil {
		t.Fatalf("create product = %v %d %s", err, prod.StatusCode(), prod.Body)
	}

	// The change committed (201) and its delivery is in flight: kill the process now.
	var inFlight delivery
	select {
	case inFlight = <-got:
	case <-time.After(3 * time.Minute):
		t.Fatal("the first process never started delivering")
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	t.Logf("killed the first process with delivery %s in flight", inFlight.id)

	// A stuck job is rescued once it outlived the job timeout (40 s) plus a margin, by the
	// rescuer that runs every 30 s on the leader: about two minutes, bounded at five.
	_, _ = serveProcess(t, "second process", env)
	wh, err := standardwebhooks.NewWebhook(*ep.JSON201.Secret)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case d := <-got:
			if d.id != inFlight.id {
				t.Fatalf("redelivered webhook-id %s, want %s (the event's id, stable across retries)", d.id, inFlight.id)
			}
			if err := wh.Verify(d.body, d.header); err != nil {
				t.Fatalf("redelivery signature: %v", err)
			}
			if !strings.Contains(string(d.body), prod.JSON201.Id.String()) {
				t.Errorf("redelivered body does not name product %s: %s", prod.JSON201.Id, d.body)
			}
			t.Logf("redelivered %s by the second process (the receiver saw it twice in all: at least once, same id)", d.id)
			return
		case <-timeout:
			t.Fatal("the second process did not deliver the event within 5 minutes of the kill")
		}
	}
}
