package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The login throttle (README, Security): failed logins, and wrong current passwords at
// /auth/password, are counted per (email, client address) and per email alone, in the database
// so that every instance sees the same counts.
//
// Keyed by the email rather than the account, an unknown email is counted and throttled exactly
// like a known one: the answers cannot tell them apart. Keyed also by the client's address, a
// stranger's failures throttle only the stranger: the owner, from anywhere else, still logs in.
// The per-email ceiling (LoginAccountMaxFailures, much higher) is what stops a guesser spread
// over many addresses.
const (
	// maxLockout caps the doubling delay.
	maxLockout = time.Hour
	// LoginFailureWindow is how long a failure is remembered: a row that has seen no failure for
	// that long, and is not locked, starts again from zero.
	LoginFailureWindow = 24 * time.Hour
	// throttleWholeEmail is the ip of the per-email row; no client address is written like it.
	throttleWholeEmail = "*"
)

// throttleKey is the email's key in login_throttles: an HMAC, so the table holds no address in
// clear (unknown emails are typos of real people's addresses too) and a copy of it cannot be
// matched against a list of emails without the server's secret.
func (h *Handlers) throttleKey(email string) []byte {
	m := hmac.New(sha256.New, h.throttleSecret)
	m.Write([]byte(strings.ToLower(email)))
	return m.Sum(nil)
}

// throttleIP is the client address the request is counted under.
func throttleIP(ctx context.Context) string {
	if ip := problem.RequestFrom(ctx).IP; ip != "" && ip != throttleWholeEmail {
		return ip
	}
	return "unknown"
}

// throttled reports how long the email is still throttled for this client, or 0.
func (h *Handlers) throttled(ctx context.Context, q *db.Queries, email string, now time.Time) (time.Duration, error) {
	until, err := q.LoginThrottleLockedUntil(ctx, db.LoginThrottleLockedUntilParams{
		EmailKey: h.throttleKey(email), Ip: throttleIP(ctx), Now: now,
	})
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return until.Sub(now), nil
}

// recordLoginFailure counts one failure of email from this client, and one for the email as a
// whole, inside the caller's transaction.
func (h *Handlers) recordLoginFailure(ctx context.Context, q *db.Queries, email string, now time.Time) error {
	key := h.throttleKey(email)
	for _, row := range []struct {
		ip  string
		max int
	}{{throttleIP(ctx), h.auth.LoginMaxFailures}, {throttleWholeEmail, h.auth.LoginAccountMaxFailures}} {
		if _, err := q.LoginThrottleRecordFailure(ctx, db.LoginThrottleRecordFailureParams{
			EmailKey:      key,
			Ip:            row.ip,
			MaxFailures:   int32(row.max), //nolint:gosec // bounded by configuration
			Now:           now,
			BaseSeconds:   h.auth.LoginLockout.Seconds(),
			MaxSeconds:    maxLockout.Seconds(),
			WindowSeconds: LoginFailureWindow.Seconds(),
		}); err != nil {
			return err
		}
	}
	return nil
}

// resetLoginFailures forgets this client's failures for email, and the email's overall count:
// the right password was just given. Other clients stay throttled.
func (h *Handlers) resetLoginFailures(ctx context.Context, q *db.Queries, email string) error {
	return q.LoginThrottleReset(ctx, db.LoginThrottleResetParams{EmailKey: h.throttleKey(email), Ip: throttleIP(ctx)})
}

// throttledDetail is the same whichever row is locked, and whether or not the email has an
// account.
const throttledDetail = "Too many failed logins for this email; try again later."
