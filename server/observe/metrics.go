// Package observe holds what operators watch: the Prometheus registry with its collectors and the
// domain counters, the HTTP metrics and tracing middleware, and the OpenTelemetry set-up with a
// pgx tracer. It depends on nothing else in the server, so every package may record into it.
package observe

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ecompointer/ecompointer/server/buildinfo"
)

const namespace = "ecompointer"

// Registry holds every metric the process exposes. It is the package's own, not Prometheus'
// default one, so that nothing a dependency registers globally leaks onto the metrics listener.
var Registry = prometheus.NewRegistry()

// Label values are bounded sets written in the code: never an id, an email or a raw path.
var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route pattern, method and status class (2xx, 4xx...).",
	}, []string{"route", "method", "status_class"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time from the request's arrival to the end of its answer, by route pattern, method and status class.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "status_class"})
	httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being served now.",
	})

	bcryptWaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "bcrypt", Name: "queue_waiting",
		Help: "Password hashes and checks waiting for a free core (bcrypt runs one per core).",
	})
	bcryptWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "bcrypt", Name: "queue_wait_seconds",
		Help:    "Time a password hash or check waited for a free core.",
		Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})

	logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "logins_total",
		Help: "Login attempts by outcome: ok, bad_credentials, throttled (account_throttled), disabled.",
	}, []string{"outcome"})
	refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "refreshes_total",
		Help: "Refresh-token exchanges by outcome: rotated, grace (lost answer re-issued), reused (session revoked), invalid.",
	}, []string{"outcome"})
	rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests answered 429 rate_limited by the per-IP limit.",
	})
	rateLimitFallback = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "rate_limit_fallback",
		Help: "1 while the shared (Redis) rate limit is unreachable and each instance limits on its own, else 0.",
	})
	rateLimitRedisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limit_redis_errors_total",
		Help: "Calls to the shared (Redis) rate limit that failed and fell back to the in-memory limit.",
	})
	idempotentReplays = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "idempotent_replays_total",
		Help: "Requests answered with the stored answer of an earlier request with the same Idempotency-Key.",
	})
	insufficientStock = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "insufficient_stock_total",
		Help: "Stock changes, reservations or orders refused 422 insufficient_stock.",
	})
	reservations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "reservations_total",
		Help: "Reservations by event: created, released (by a client before expiry), expired (released after expiry, mostly by a sweeper).",
	}, []string{"event"})
	orderTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "order_transitions_total",
		Help: "Orders entering a state, by the state they enter (created, paid, fulfilled, cancelled...).",
	}, []string{"to"})
	sweeperRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sweeper_runs_total",
		Help: "Background sweeps by sweeper (reservations, idempotency_keys, sessions) and result (ok, error).",
	}, []string{"sweeper", "result"})
	webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome (succeeded, retrying: failed with retries left, failed: the delivery's last).",
	}, []string{"outcome"})
	webhookLagSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "webhook_delivery_lag_seconds",
		Help:    "From a delivery's creation (the event's fan-out) to its successful attempt, retries included.",
		Buckets: []float64{0.05, 0.1, 0.5, 1, 5, 30, 300, 1800, 7200, 36000},
	})
	serverErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "server_errors_total",
		Help: "5xx answers by problem code (internal_error, database_unavailable, database_timeout, write_conflict, brand_busy, ...).",
	}, []string{"code"})
	webhookAttemptSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "webhook_attempt_duration_seconds",
		Help:    "How long webhook delivery attempts took, until the receiver's answer or the failure.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		httpRequests, httpDuration, httpInFlight,
		bcryptWaiting, bcryptWait,
		logins, refreshes, rateLimited, rateLimitFallback, rateLimitRedisErrors,
		idempotentReplays, insufficientStock, reservations, orderTransitions, sweeperRuns,
		webhookAttempts, webhookAttemptSeconds, webhookLagSeconds,
		serverErrors, poolCollector{}, jobQueueCollector{}, sessionCacheCollector{}, accessTokenCollector{},
	)
	b := buildinfo.Get()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build is running (as `ecompointer version` does).",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	buildInfo.Set(1)
	Registry.MustRegister(buildInfo)
	// Known label values start at zero, so a rate() over them works from the first scrape and
	// `promtool check metrics` sees every series.
	for _, o := range []string{"ok", "bad_credentials", "throttled", "disabled"} {
		logins.WithLabelValues(o)
	}
	for _, o := range []string{"rotated", "grace", "reused", "invalid"} {
		refreshes.WithLabelValues(o)
	}
	for _, e := range []string{"created", "released", "expired"} {
		reservations.WithLabelValues(e)
	}
	for _, s := range []string{"reservations", "idempotency_keys", "sessions", "webhook_deliveries"} {
		sweeperRuns.WithLabelValues(s, "ok")
		sweeperRuns.WithLabelValues(s, "error")
	}
	for _, o := range []string{"succeeded", "retrying", "failed"} {
		webhookAttempts.WithLabelValues(o)
	}
}

// Handler serves the registry in the Prometheus exposition format, for the metrics listener.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// Login outcomes.
const (
	LoginOK             = "ok"
	LoginBadCredentials = "bad_credentials"
	LoginThrottled      = "throttled"
	LoginDisabled       = "disabled"
)

// LoginOutcome counts one login attempt's outcome (one of the Login* constants).
func LoginOutcome(outcome string) { logins.WithLabelValues(outcome).Inc() }

// Refresh outcomes.
const (
	RefreshRotated = "rotated"
	RefreshGrace   = "grace"
	RefreshReused  = "reused"
	RefreshInvalid = "invalid"
)

// RefreshOutcome counts one refresh's outcome (one of the Refresh* constants).
func RefreshOutcome(outcome string) { refreshes.WithLabelValues(outcome).Inc() }

// RateLimited counts one request refused by the per-IP rate limit.
func RateLimited() { rateLimited.Inc() }

// IdempotentReplay counts one answer replayed for an Idempotency-Key.
func IdempotentReplay() { idempotentReplays.Inc() }

// InsufficientStock counts one request refused for insufficient_stock.
func InsufficientStock() { insufficientStock.Inc() }

// Reservation events.
const (
	ReservationCreated  = "created"
	ReservationReleased = "released"
	ReservationExpired  = "expired"
)

// Reservations counts n reservations reaching event (one of the Reservation* constants).
func Reservations(event string, n int) {
	if n > 0 && event != "" {
		reservations.WithLabelValues(event).Add(float64(n))
	}
}

// OrderTransition counts one order entering state to (a state of the orders' state machine,
// lowercase: a bounded set).
func OrderTransition(to string) { orderTransitions.WithLabelValues(to).Inc() }

// WebhookAttempt counts one webhook delivery attempt by outcome (succeeded, retrying, failed)
// and how long it took.
func WebhookAttempt(outcome string, took time.Duration) {
	webhookAttempts.WithLabelValues(outcome).Inc()
	webhookAttemptSeconds.Observe(took.Seconds())
}

// WebhookDelivered records how long a delivery took to succeed since it was made.
func WebhookDelivered(lag time.Duration) { webhookLagSeconds.Observe(lag.Seconds()) }

// SweeperRun counts one run of the named background sweeper, failed when err is not nil.
func SweeperRun(sweeper string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	sweeperRuns.WithLabelValues(sweeper, result).Inc()
}

// BcryptQueued is called when a password hash or check starts waiting for a core; the returned
// function is called once it has one (or gave up), and records the wait.
func BcryptQueued() func() {
	start := time.Now()
	bcryptWaiting.Inc()
	return func() {
		bcryptWaiting.Dec()
		bcryptWait.Observe(time.Since(start).Seconds())
	}
}

// RateLimitFallback records whether the shared rate limit is unreachable (the in-memory one
// answers meanwhile).
func RateLimitFallback(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	rateLimitFallback.Set(v)
}

// RateLimitRedisError counts one failed call to the shared rate limit.
func RateLimitRedisError() { rateLimitRedisErrors.Inc() }

// ServerError counts a 5xx answer by its problem code (the codes are the spec's enum: a small
// fixed set). The database's passing states are told apart, so an alert can say which one.
func ServerError(code string) { serverErrors.WithLabelValues(code).Inc() }

// statusClass is "2xx" for 200..299 and so on: five values, whatever the handlers write.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// pool is the request pool whose statistics are exposed (nil: none yet).
var pool atomic.Pointer[pgxpool.Pool]

// SetPool exposes p's statistics (the last pool set wins: one process serves one pool).
func SetPool(p *pgxpool.Pool) { pool.Store(p) }

// poolCollector reads pgxpool's statistics at scrape time.
type poolCollector struct{}

var (
	poolAcquired = prometheus.NewDesc(namespace+"_db_pool_acquired_connections",
		"Connections of the request pool in use now.", nil, nil)
	poolIdle = prometheus.NewDesc(namespace+"_db_pool_idle_connections",
		"Connections of the request pool idle now.", nil, nil)
	poolTotal = prometheus.NewDesc(namespace+"_db_pool_connections",
		"Connections of the request pool open now (acquired, idle and being opened).", nil, nil)
	poolMax = prometheus.NewDesc(namespace+"_db_pool_max_connections",
		"The request pool's maximum size.", nil, nil)
	poolAcquires = prometheus.NewDesc(namespace+"_db_pool_acquires_total",
		"Connections acquired from the request pool.", nil, nil)
	poolAcquireSeconds = prometheus.NewDesc(namespace+"_db_pool_acquire_duration_seconds_total",
		"Time spent acquiring connections from the request pool, waits included.", nil, nil)
	poolWaits = prometheus.NewDesc(namespace+"_db_pool_empty_acquires_total",
		"Acquires that had to wait because no connection was idle.", nil, nil)
	poolWaitSeconds = prometheus.NewDesc(namespace+"_db_pool_empty_acquire_wait_seconds_total",
		"Time spent waiting by acquires that found no idle connection.", nil, nil)
	poolCanceled = prometheus.NewDesc(namespace+"_db_pool_canceled_acquires_total",
		"Acquires abandoned because the request's context ended.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolAcquireSeconds, poolWaits, poolWaitSeconds, poolCanceled} {
		ch <- d
	}
}

func (poolCollector) Collect(ch chan<- prometheus.Metric) {
	p := pool.Load()
	if p == nil {
		return
	}
	s := p.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolAcquireSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
}

// QueueDepth is how many jobs of one queue are not yet finished.
type QueueDepth struct {
	Queue string
	Depth int64
}

// jobQueues counts the job queues' depths at scrape time (nil: none exposed).
var jobQueues atomic.Pointer[func(context.Context) ([]QueueDepth, error)]

// SetJobQueues exposes what count returns as ecompointer_job_queue_depth{queue}, counted at each
// scrape: the depth of the shared queues as of the scrape, whichever instance works them (one
// whose workers are off or stuck still shows the backlog). nil stops exposing them.
func SetJobQueues(count func(context.Context) ([]QueueDepth, error)) {
	if count == nil {
		jobQueues.Store(nil)
		return
	}
	jobQueues.Store(&count)
}

// jobQueueTimeout bounds the count, so that a slow database cannot hold a scrape.
const jobQueueTimeout = 2 * time.Second

var jobQueueDepth = prometheus.NewDesc(namespace+"_job_queue_depth",
	"Jobs not yet finished (waiting, scheduled, retrying or running) of every instance, by queue: "+
		"webhooks (fan-outs and deliveries), nats (publications). Counted at scrape time; absent when the count failed.",
	[]string{"queue"}, nil)

// jobQueueCollector reads the queue depths at scrape time.
type jobQueueCollector struct{}

func (jobQueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobQueueDepth }

func (jobQueueCollector) Collect(ch chan<- prometheus.Metric) {
	count := jobQueues.Load()
	if count == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobQueueTimeout)
	defer cancel()
	depths, err := (*count)(ctx)
	if err != nil {
		return // no sample rather than a wrong one; the pool's own metrics show why
	}
	for _, d := range depths {
		ch <- prometheus.MustNewConstMetric(jobQueueDepth, prometheus.GaugeValue, float64(d.Depth), d.Queue)
	}
}

// sessionCacheTrusted reports whether the session cache may answer from memory (nil: no cache).
var sessionCacheTrusted atomic.Pointer[func() bool]

// SetSessionCache exposes the session cache's state: trusted reports whether its listener is
// connected and current (the last cache set wins: one process serves one cache).
func SetSessionCache(trusted func() bool) { sessionCacheTrusted.Store(&trusted) }

var sessionCacheTrustedDesc = prometheus.NewDesc(namespace+"_session_cache_trusted",
	"1 while the session cache's LISTEN connection is up and current, so it answers from memory; 0 while every request is checked in the database (listener down or late).", nil, nil)

// sessionCacheCollector reads the session cache's state at scrape time; it exposes nothing when
// the cache is off (SESSION_CACHE=off), so an alert on 0 never fires for a cache not in use.
type sessionCacheCollector struct{}

func (sessionCacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sessionCacheTrustedDesc }

func (sessionCacheCollector) Collect(ch chan<- prometheus.Metric) {
	f := sessionCacheTrusted.Load()
	if f == nil {
		return
	}
	v := 0.0
	if (*f)() {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(sessionCacheTrustedDesc, prometheus.GaugeValue, v)
}

// accessTokenChecks counts the access tokens presented (nil: no server in this process).
var accessTokenChecks atomic.Pointer[func() (remembered, checked uint64)]

// SetAccessTokens exposes the server's access-token counters (token.Tokens.Checks); nil stops.
func SetAccessTokens(checks func() (remembered, checked uint64)) {
	if checks == nil {
		accessTokenChecks.Store(nil)
		return
	}
	accessTokenChecks.Store(&checks)
}

var accessTokensDesc = prometheus.NewDesc(namespace+"_access_tokens_total",
	"Access tokens presented, by how they were verified: from=\"memory\" remembered as verified (expiry and session still checked), from=\"signature\" checked from their signature, whether they passed or not. A signature rate near the request rate means SESSION_CACHE_SIZE is below the tokens in use.",
	[]string{"from"}, nil)

// accessTokenCollector reads the counters at scrape time.
type accessTokenCollector struct{}

func (accessTokenCollector) Describe(ch chan<- *prometheus.Desc) { ch <- accessTokensDesc }

func (accessTokenCollector) Collect(ch chan<- prometheus.Metric) {
	f := accessTokenChecks.Load()
	if f == nil {
		return
	}
	remembered, checked := (*f)()
	ch <- prometheus.MustNewConstMetric(accessTokensDesc, prometheus.CounterValue, float64(remembered), "memory")
	ch <- prometheus.MustNewConstMetric(accessTokensDesc, prometheus.CounterValue, float64(checked), "signature")
}
