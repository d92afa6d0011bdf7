package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/server/webhooks"
)

// TestWebhookConfig: the WEBHOOK_* variables reach webhooks.Config, http is refused by default in
// production only, and a bad value is named.
func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(envFunc(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.webhooks.AllowHTTP || c.webhooks.DisableAfter != webhooks.DefaultDisableAfter || c.webhooks.RetrySchedule != nil || c.webhooks.AllowedNetworks != nil || c.webhooks.Off {
		t.Errorf("development defaults = %+v", c.webhooks)
	}
	c, err = loadConfig(envFunc(map[string]string{
		"WEBHOOK_RETRY_SCHEDULE": "1s, 2m", "WEBHOOK_DISABLE_AFTER": "48h", "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
		"WEBHOOK_ALLOW_HTTP": "false", "WEBHOOK_DELIVERY": "off",
	}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.webhooks
	if !slices.Equal(w.RetrySchedule, []time.Duration{time.Second, 2 * time.Minute}) || w.DisableAfter != 48*time.Hour || w.AllowHTTP || !w.Off ||
		!slices.Equal(w.AllowedNetworks, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}) {
		t.Errorf("config = %+v", w)
	}
	// A schedule longer than river's attempts of a delivery job allow is refused, not cut short.
	_, err = loadConfig(envFunc(map[string]string{"WEBHOOK_RETRY_SCHEDULE": strings.Repeat("1s,", webhooks.MaxRetries) + "1s"}))
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_RETRY_SCHEDULE") || !strings.Contains(err.Error(), "25 retries") {
		t.Errorf("a schedule of %d retries: %v", webhooks.MaxRetries+1, err)
	}
	_, err = loadConfig(envFunc(map[string]string{"WEBHOOK_RETRY_SCHEDULE": "5s,soon", "WEBHOOK_ALLOWED_NETWORKS": "localnet", "WEBHOOK_DISABLE_AFTER": "0s"}))
	for _, name := range []string{"WEBHOOK_RETRY_SCHEDULE", "WEBHOOK_ALLOWED_NETWORKS", "WEBHOOK_DISABLE_AFTER"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// TestNATSConfig: EVENTS_NATS_URL reaches the server's NATS setting, off by default, and a URL
// that is not nats:// is named.
func TestNATSConfig(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(envFunc(map[string]string{}))
	if err != nil || c.nats.URL != "" {
		t.Fatalf("default: url %q, err %v", c.nats.URL, err)
	}
	c, err = loadConfig(envFunc(map[string]string{"EVENTS_NATS_URL": "nats://127.0.0.1:4222"}))
	if err != nil || c.nats.URL != "nats://127.0.0.1:4222" {
		t.Fatalf("set: url %q, err %v", c.nats.URL, err)
	}
	for _, bad := range []string{"http://127.0.0.1:4222", "127.0.0.1:4222", "nats://"} {
		_, err = loadConfig(envFunc(map[string]string{"EVENTS_NATS_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "EVENTS_NATS_URL") {
			t.Errorf("%q: error does not name EVENTS_NATS_URL: %v", bad, err)
		}
	}
}
