// Package webhooks delivers a brand's events to its endpoints over HTTP, signed after Standard
// Webhooks, through river jobs that events.Emit enqueues in the transaction of the change: a job
// exists exactly when the change committed, survives restarts, and is worked by one instance.
package webhooks

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// DefaultRetrySchedule is the pause before each retry of a failed attempt (WEBHOOK_RETRY_SCHEDULE):
// eight attempts over about 28 hours.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// DefaultDisableAfter is how long an endpoint may fail every attempt before it is disabled
// (WEBHOOK_DISABLE_AFTER).
const DefaultDisableAfter = 120 * time.Hour

// HistoryRetention is how long deliveries and their attempts are kept.
const HistoryRetention = 14 * 24 * time.Hour

// Config sets delivery.
type Config struct {
	// RetrySchedule is the pause before each retry; its length is the number of retries (nil:
	// DefaultRetrySchedule).
	RetrySchedule []time.Duration
	// DisableAfter: an endpoint whose every attempt failed for this long is disabled (0:
	// DefaultDisableAfter).
	DisableAfter time.Duration
	// AllowedNetworks are ranges delivery may reach although they are loopback, private or
	// link-local (WEBHOOK_ALLOWED_NETWORKS; tests and local development use 127.0.0.0/8).
	AllowedNetworks []netip.Prefix
	// AllowHTTP accepts http:// endpoint URLs (WEBHOOK_ALLOW_HTTP); otherwise https only.
	AllowHTTP bool
	// Timeout bounds one attempt, connection included (0: 10 s).
	Timeout time.Duration
	// PollInterval is how often the queue is polled for jobs besides river's notifications
	// (0: river's default, 1 s).
	PollInterval time.Duration
	// Off runs no delivery worker on this instance (jobs wait for another one).
	Off bool
}

func (c Config) withDefaults() Config {
	if c.RetrySchedule == nil {
		c.RetrySchedule = DefaultRetrySchedule
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// ParseRetrySchedule reads a comma-separated list of durations ("5s,5m,30m").
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration", s, part)
		}
		out = append(out, d)
	}
	if len(out) > MaxRetries {
		return nil, fmt.Errorf("retry schedule %q: %d retries, at most %d", s, len(out), MaxRetries)
	}
	return out, nil
}

// MaxRetries is the longest schedule: river gives the jobs queries/events.sql enqueues 25
// attempts, the first and 24 retries.
const MaxRetries = 24

// ParseNetworks reads a comma-separated list of CIDRs ("127.0.0.0/8,::1/128").
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("allowed networks: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
