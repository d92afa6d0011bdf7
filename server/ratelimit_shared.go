package server

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/ecompointer/ecompointer/server/observe"
)

// rateLimiter takes one request from a client IP's budget; when there is none it says false and
// the whole seconds to wait. ipLimiter (in memory, per instance) and sharedLimiter (Redis, shared
// by every instance) implement it.
type rateLimiter interface {
	allow(ip string) (bool, int)
}

// sharedRateLimitTimeout bounds one call to Redis: past it the request is limited in memory, so a
// slow Redis costs a request at most this.
const sharedRateLimitTimeout = 100 * time.Millisecond

// sharedRateLimitRetry is how long the limit stays in memory after Redis failed before Redis is
// tried again: while it is down, requests do not each pay a timeout.
const sharedRateLimitRetry = 5 * time.Second

// sharedLimiter is the per-IP limit shared by every instance through Redis, with GCRA (the
// generic cell rate algorithm, go-redis/redis_rate: one Lua script, atomic in Redis), so a client
// gets perMinute requests a minute in all, not per instance. When Redis does not answer, the
// in-memory limit answers instead (each instance then limits on its own), never an error: the
// log says so once per outage and the rate_limit_fallback gauge is 1 meanwhile.
type sharedLimiter struct {
	client *redis.Client
	gcra   *redis_rate.Limiter
	limit  redis_rate.Limit
	local  *ipLimiter
	log    *slog.Logger

	mu      sync.Mutex
	downAt  time.Time // when Redis last failed; zero while it answers
	retryAt time.Time
}

// newRateLimiter is the per-IP limit: shared through Redis when redisURL is set, else in memory.
// A nil limiter (perMinute 0) allows everything.
func newRateLimiter(perMinute int, redisURL string, now func() time.Time, log *slog.Logger) (rateLimiter, func() error, error) {
	local := newIPLimiter(perMinute, now)
	none := func() error { return nil }
	if local == nil {
		return (*ipLimiter)(nil), none, nil
	}
	if redisURL == "" {
		return local, none, nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, none, errors.New("RATE_LIMIT_REDIS_URL is not a valid redis:// URL")
	}
	opts.DialTimeout = sharedRateLimitTimeout
	opts.ReadTimeout = sharedRateLimitTimeout
	opts.WriteTimeout = sharedRateLimitTimeout
	opts.MaxRetries = -1 // a retry doubles the wait; the in-memory limit is the fallback
	client := redis.NewClient(opts)
	observe.RateLimitFallback(false)
	return &sharedLimiter{
		client: client,
		gcra:   redis_rate.NewLimiter(client),
		limit:  redis_rate.PerMinute(perMinute),
		local:  local,
		log:    log,
	}, client.Close, nil
}

func (l *sharedLimiter) allow(ip string) (bool, int) {
	now := time.Now()
	l.mu.Lock()
	skip := now.Before(l.retryAt)
	l.mu.Unlock()
	if !skip {
		ctx, cancel := context.WithTimeout(context.Background(), sharedRateLimitTimeout)
		res, err := l.gcra.Allow(ctx, "ecompointer:ratelimit:"+ip, l.limit)
		cancel()
		if err == nil {
			l.up()
			if res.Allowed > 0 {
				return true, 0
			}
			return false, max(1, int(math.Ceil(res.RetryAfter.Seconds())))
		}
		l.down(now, err)
	}
	return l.local.allow(ip)
}

// down notes a failed call: logged once per outage, counted every time.
func (l *sharedLimiter) down(now time.Time, err error) {
	observe.RateLimitRedisError()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retryAt = now.Add(sharedRateLimitRetry)
	if !l.downAt.IsZero() {
		return
	}
	l.downAt = now
	observe.RateLimitFallback(true)
	l.log.Error("shared rate limit: Redis is unreachable; limiting each client IP in memory, per instance, until it answers",
		"error", err, "retry_every", sharedRateLimitRetry.String())
}

// up notes a successful call, logging the end of an outage.
func (l *sharedLimiter) up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.downAt.IsZero() {
		return
	}
	l.log.Info("shared rate limit: Redis answers again; the limit is shared", "down_for", time.Since(l.downAt).Round(time.Millisecond).String())
	l.downAt = time.Time{}
	observe.RateLimitFallback(false)
}
