package webhooks_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
	"github.com/ecompointer/ecompointer/server/webhooks"
)

// A URL that names a refused address is a 400 naming url, before anything is stored.
func TestRefusedURLs(t *testing.T) {
	t.Parallel()
	strict := webhooks.Config{AllowHTTP: false}
	e := newEnv(t, strict, false)
	for _, tc := range []struct{ name, url, want string }{
		{"http without the setting", "http://hooks.example.com/x", "https"},
		{"loopback", "https://127.0.0.1/x", "loopback"},
		{"localhost", "https://localhost:8443/x", "loopback"},
		{"a localhost name", "https://api.localhost/x", "loopback"},
		{"metadata", "https://169.254.169.254/latest/meta-data", "loopback"},
		{"ipv6 loopback", "https://[::1]/x", "loopback"},
		{"private", "https://10.1.2.3/x", "loopback"},
		{"private 172", "https://172.20.0.1/x", "loopback"},
		{"private 192", "https://192.168.1.1/x", "loopback"},
		{"carrier NAT", "https://100.64.0.1/x", "loopback"},
		{"unique local", "https://[fd00:ec2::254]/x", "loopback"},
		{"ipv4-mapped loopback", "https://[::ffff:127.0.0.1]/x", "loopback"},
		{"ipv4-compatible loopback", "https://[::127.0.0.1]/x", "loopback"},
		{"ipv4-compatible address", "https://[::1.0.0.0]/x", "loopback"},
		{"unspecified", "https://0.0.0.0/x", "loopback"},
		{"loopback as one number", "https://2130706433/x", "loopback"},
		{"loopback in hexadecimal", "https://0x7f000001/x", "loopback"},
		{"loopback in parts", "https://0x7f.1/x", "loopback"},
		{"loopback shortened", "https://127.1:8443/x", "loopback"},
		{"private in octal", "https://012.1.2.3/x", "loopback"},
		{"metadata as two parts", "https://169.254.43518/x", "loopback"},
		{"public address as one number", "https://134744072/x", "four decimal numbers"},
		{"leading zero in a public address", "https://08.8.8.8/x", "four decimal numbers"},
		{"too many parts", "https://1.2.3.4.5/x", "four decimal numbers"},
		{"a number too large", "https://4294967296/x", "four decimal numbers"},
		{"a numeric last label", "https://hooks.example.123/x", "four decimal numbers"},
		{"user information", "https://user:pass@hooks.example.com/x", "user information"},
		{"not a URL", "hooks.example.com", "absolute"},
		{"ftp", "ftp://hooks.example.com/x", "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: tc.url, EventTypes: []string{"*"}}, e.auth())
			if err != nil || resp.ApplicationproblemJSON400 == nil {
				t.Fatalf("create %s = %v %d %s", tc.url, err, resp.StatusCode(), resp.Body)
			}
			errs := *resp.ApplicationproblemJSON400.Errors
			if len(errs) != 1 || errs[0].Field != "url" || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("errors = %+v", errs)
			}
		})
	}
	t.Run("unknown event type", func(t *testing.T) {
		resp, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: "https://hooks.example.com/x", EventTypes: []string{"product.exploded"}}, e.auth())
		if err != nil || resp.ApplicationproblemJSON400 == nil || (*resp.ApplicationproblemJSON400.Errors)[0].Field != "eventTypes" {
			t.Fatalf("create = %v %d %s", err, resp.StatusCode(), resp.Body)
		}
	})
	t.Run("https to a public name is accepted", func(t *testing.T) {
		resp, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: "https://hooks.example.com/x", EventTypes: []string{"*"}}, e.auth())
		if err != nil || resp.JSON201 == nil {
			t.Fatalf("create = %v %d %s", err, resp.StatusCode(), resp.Body)
		}
	})
}

// The connection itself is checked, after name resolution: a name that resolves to a refused
// address (localhost here; a rebinding name alike) fails, unless an allowed network opens it.
func TestConnectTimeGuard(t *testing.T) {
	t.Parallel()
	hit := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hit <- struct{}{} }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, tc := range []struct {
		name    string
		cfg     webhooks.Config
		url     string
		refused bool
	}{
		{"localhost refused", webhooks.Config{}, "http://localhost" + port, true},
		{"127.0.0.1 refused", webhooks.Config{}, srv.URL, true},
		{"metadata refused", webhooks.Config{}, "http://169.254.169.254/latest/meta-data", true},
		{"localhost allowed by the setting", webhooks.Config{AllowedNetworks: loopback}, "http://localhost" + port, false},
		{"127.0.0.1 allowed by the setting", webhooks.Config{AllowedNetworks: loopback}, srv.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := webhooks.NewClient(tc.cfg).Get(tc.url)
			if tc.refused {
				if !errors.Is(err, webhooks.ErrRefusedAddress) {
					t.Fatalf("GET %s = %v, want refused", tc.url, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET %s = %v", tc.url, err)
			}
			_ = resp.Body.Close()
			<-hit
		})
	}
	if len(hit) != 0 {
		t.Errorf("a refused request reached the server")
	}
}

// A redirect is an answer, not an instruction: the delivery fails with the 3xx and the target is
// never asked.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	target := newReceiver(t, always(http.StatusOK))
	redirect := newReceiverFunc(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	ep := e.endpoint(t, redirect.URL)
	e.product(t, "WH-REDIR")
	for range 3 {
		redirect.next(t)
	}
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliveryFailed || len(d.Attempts) != 3 || *d.Attempts[0].ResponseStatus != http.StatusFound {
		t.Errorf("delivery = %+v", d)
	}
	if n := target.n.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
}

// Delivery refuses a stored URL the guard no longer allows (the allowance was narrowed since):
// every attempt is recorded with the reason, and the receiver is never asked.
func TestRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	r := newReceiver(t, always(http.StatusOK))
	ep := e.endpoint(t, r.URL)
	// The same database, worked by an instance without the allowance.
	narrowed := testConfig()
	narrowed.AllowedNetworks = nil
	runWorkers(t, servertest.NewOn(t, e.OwnerURL, func(c *server.Config) { c.Webhooks = narrowed }))
	e.product(t, "WH-NARROW")
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliveryFailed || len(d.Attempts) != 3 {
		t.Fatalf("delivery = %+v", d)
	}
	for _, a := range d.Attempts {
		if a.Error == nil || !strings.Contains(*a.Error, "not allowed") || a.ResponseStatus != nil {
			t.Errorf("attempt = %+v", a)
		}
	}
	if n := r.n.Load(); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}
