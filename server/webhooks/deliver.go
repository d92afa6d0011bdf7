package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/jobs"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// queue is river's queue of webhook work (queries/webhooks.sql enqueues on it).
const queue = "webhooks"

// maxWorkers is how many deliveries an instance sends at once; the client keeps as many
// connections to one host alive, so that a busy endpoint is not dialled anew for each.
const maxWorkers = 20

// Handlers implements the webhook operations of api.StrictServerInterface, and runs delivery.
type Handlers struct {
	d      *kit.Deps
	cfg    Config
	guard  guard
	client *http.Client
}

// New returns the webhook handlers and delivery of cfg.
func New(d *kit.Deps, cfg Config) *Handlers {
	cfg = cfg.withDefaults()
	g := guard{allowed: cfg.AllowedNetworks}
	return &Handlers{d: d, cfg: cfg, guard: g, client: newClient(g, cfg)}
}

// On is h with its delivery (Domain, Run) on d: the background work's own dependencies (its
// pool and brand gate, server.Config.JobsPool), apart from the requests' that New was given.
func (h *Handlers) On(d *kit.Deps) *Handlers {
	c := *h
	c.d = d
	return &c
}

// maxAttempts is the first attempt and every retry of the schedule.
func (h *Handlers) maxAttempts() int16 { return int16(len(h.cfg.RetrySchedule) + 1) } //nolint:gosec // a schedule of a few entries

// Domain is webhook delivery on the shared job queue (server/jobs): the fan-out and delivery
// workers, and the pruning of the delivery history and the queue depth metric beside them. ok is
// false when this instance delivers nothing (WEBHOOK_WORKERS=off: the jobs wait for another).
func (h *Handlers) Domain() (d jobs.Domain, ok bool) {
	if h.cfg.Off {
		return jobs.Domain{}, false
	}
	return jobs.Domain{
		Name: "webhooks",
		Register: func(w *river.Workers) {
			river.AddWorker(w, &fanoutWorker{h: h})
			river.AddWorker(w, &deliveryWorker{h: h})
		},
		Queues: map[string]river.QueueConfig{queue: jobs.Queue(h.cfg.PollInterval, maxWorkers)},
		// An attempt is bounded by the client's timeout; the job by a little more, for its
		// bookkeeping.
		JobTimeout: h.jobTimeout(),
		Drain:      h.cfg.Timeout + 5*time.Second,
		Background: func(ctx context.Context) { h.runPruner(ctx, time.Hour) },
	}, true
}

// Run works the webhook jobs of every instance's queue, and prunes the delivery history, until
// ctx ends; then it stops taking jobs and lets the attempts in flight finish (bounded by the
// attempt timeout) before it returns. It runs a queue of its own (tests use it alone); a server
// runs Domain on the shared one.
func (h *Handlers) Run(ctx context.Context) error {
	dom, ok := h.Domain()
	if !ok {
		<-ctx.Done()
		return nil
	}
	return jobs.Run(ctx, h.d, dom)
}

func (h *Handlers) jobTimeout() time.Duration { return h.cfg.Timeout + 30*time.Second }

type fanoutArgs struct {
	BrandID uuid.UUID `json:"brandId"`
	EventID uuid.UUID `json:"eventId"`
}

func (fanoutArgs) Kind() string { return "webhook_fanout" }

// fanoutWorker makes one delivery per subscribed endpoint of an event, and enqueues their jobs,
// in one transaction: run twice (a crash after the commit), it makes no second delivery. Since
// migration 000024 events fan out in their own statement (queries/events.sql, EventInsert); this
// works the fan-out jobs an earlier release enqueued, still waiting after an upgrade or written
// by its instances during a rolling one.
type fanoutWorker struct {
	river.WorkerDefaults[fanoutArgs]
	h *Handlers
}

// Timeout bounds a fan-out as a delivery is bounded.
func (w *fanoutWorker) Timeout(*river.Job[fanoutArgs]) time.Duration { return w.h.jobTimeout() }

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[fanoutArgs]) error {
	return notAnAttempt(w.work(ctx, job))
}

// notAnAttempt turns a brand whose share of the pool stayed busy (kit.ErrBrandBusy: its requests
// hold every slot it may have, past the gate's wait) into a snooze: the job is available again at
// once and the wait does not count as an attempt. Counted, a load lasting a few minutes would
// spend a delivery's attempts before any reached its endpoint (each retry further off on the
// schedule), and after the last, river would drop the job with the delivery still pending: lost.
// The gate's own wait paces the re-runs.
func notAnAttempt(err error) error {
	if errors.Is(err, kit.ErrBrandBusy) {
		return river.JobSnooze(0)
	}
	return err
}

func (w *fanoutWorker) work(ctx context.Context, job *river.Job[fanoutArgs]) error {
	h, a := w.h, job.Args
	_, err := kit.InBrand(ctx, h.d, a.BrandID, func(q *db.Queries) (struct{}, error) {
		ev, err := q.EventGet(ctx, db.EventGetParams{BrandID: a.BrandID, ID: a.EventID})
		if errors.Is(err, pgx.ErrNoRows) {
			return struct{}{}, nil // pruned before it was worked
		}
		if err != nil {
			return struct{}{}, err
		}
		eps, err := q.WebhookEndpointsSubscribed(ctx, db.WebhookEndpointsSubscribedParams{BrandID: a.BrandID, Type: ev.Type})
		if err != nil || len(eps) == 0 {
			return struct{}{}, err
		}
		ids := make([]uuid.UUID, 0, len(eps))
		for _, e := range eps {
			d, err := q.WebhookDeliveryCreate(ctx, db.WebhookDeliveryCreateParams{
				BrandID: a.BrandID, ID: uuid.Must(uuid.NewV7()), EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type,
				Payload: ev.Envelope, Now: h.d.Now(),
			})
			if errors.Is(err, pgx.ErrNoRows) {
				continue // made by an earlier run
			}
			if err != nil {
				return struct{}{}, err
			}
			ids = append(ids, d.ID)
		}
		return struct{}{}, q.WebhookDeliveryEnqueue(ctx, db.WebhookDeliveryEnqueueParams{BrandID: a.BrandID, MaxAttempts: h.maxAttempts(), DeliveryIds: ids})
	})
	return err
}

type deliveryArgs struct {
	BrandID    uuid.UUID `json:"brandId"`
	DeliveryID uuid.UUID `json:"deliveryId"`
}

func (deliveryArgs) Kind() string { return "webhook_delivery" }

// deliveryWorker makes one attempt of a delivery per run; river runs it again on the retry
// schedule while it fails.
type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	h *Handlers
}

// NextRetry follows the configured schedule: the pause after attempt n is its nth entry.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	s := w.h.cfg.RetrySchedule
	return time.Now().Add(s[min(max(job.Attempt, 1), len(s))-1])
}

// outcome is what one attempt came to.
type outcome struct {
	status   int // 0: no answer
	body     string
	err      error
	duration time.Duration
}

func (o outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// Timeout bounds an attempt by the client's timeout, and a little more for its bookkeeping.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return w.h.jobTimeout() }

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	return notAnAttempt(w.work(ctx, job))
}

func (w *deliveryWorker) work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	h, a := w.h, job.Args
	row, err := kit.ReadInBrand(ctx, h.d, a.BrandID, func(q *db.Queries) (db.WebhookDeliveryForWorkRow, error) {
		return q.WebhookDeliveryForWork(ctx, db.WebhookDeliveryForWorkParams{BrandID: a.BrandID, ID: a.DeliveryID})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the endpoint was deleted, or the history pruned
	}
	if err != nil {
		return err
	}
	d, e := row.WebhookDelivery, row.WebhookEndpoint
	if d.Status != string(api.WebhookDeliveryPending) {
		return nil
	}
	// Its endpoint was disabled meanwhile (a ping still goes), or it has no body left (its event
	// pruned without giving it a copy, which EventPrune never does): ended without an attempt.
	if (!e.Enabled && d.EventType != pingType) || row.Body == nil {
		_, err := kit.InBrand(ctx, h.d, a.BrandID, func(q *db.Queries) (struct{}, error) {
			return struct{}{}, q.WebhookDeliveryFinish(ctx, db.WebhookDeliveryFinishParams{Status: string(api.WebhookDeliveryFailed), Now: h.d.Now(), BrandID: a.BrandID, ID: d.ID})
		})
		return err
	}

	at := h.d.Now()
	o := h.send(ctx, e, d, row.Body)
	last := h.lastAttempt(job)
	gone := o.err == nil && o.status == http.StatusGone
	status := api.WebhookDeliveryPending
	switch {
	case o.ok():
		status = api.WebhookDeliverySucceeded
	case gone || last:
		status = api.WebhookDeliveryFailed
	}
	disabled := false
	_, err = kit.InBrand(ctx, h.d, a.BrandID, func(q *db.Queries) (struct{}, error) {
		disabled = false
		var err error
		switch {
		case o.ok(): // WebhookAttemptRecord ends the endpoint's failure streak
		case gone:
			disabled = true
			err = h.disable(ctx, q, a.BrandID, e.ID, "The endpoint answered 410 Gone.")
		default:
			var f db.WebhookEndpointFailedRow
			f, err = q.WebhookEndpointFailed(ctx, db.WebhookEndpointFailedParams{Now: at, BrandID: a.BrandID, ID: e.ID})
			if err == nil && at.Sub(f.FailingSince) >= h.cfg.DisableAfter {
				disabled = true
				err = h.disable(ctx, q, a.BrandID, e.ID, fmt.Sprintf("Every delivery failed for %s.", h.cfg.DisableAfter))
			}
		}
		if err != nil {
			return struct{}{}, err
		}
		st := status
		if disabled {
			st = api.WebhookDeliveryFailed // no retry goes to a disabled endpoint
		}
		return struct{}{}, q.WebhookAttemptRecord(ctx, attemptParams(a.BrandID, e.ID, d.ID, at, o, st))
	})
	if err == nil {
		outcome := map[api.WebhookDeliveryStatus]string{
			api.WebhookDeliverySucceeded: "succeeded", api.WebhookDeliveryPending: "retrying", api.WebhookDeliveryFailed: "failed",
		}[status]
		if disabled {
			outcome = "failed"
		}
		observe.WebhookAttempt(outcome, o.duration)
		if o.ok() {
			observe.WebhookDelivered(h.d.Now().Sub(d.CreatedAt))
		}
	}
	switch {
	case err != nil:
		return err
	case o.ok(), last:
		return nil
	case disabled:
		return river.JobCancel(fmt.Errorf("endpoint %s disabled", e.ID))
	}
	return fmt.Errorf("delivery %s attempt %d: %s", d.ID, job.Attempt, describe(o))
}

// lastAttempt tells whether job's run is the schedule's last attempt. The jobs EventInsert
// enqueues carry river's bound (25 attempts), not the schedule's, which is the instance's
// configuration; a snooze (notAnAttempt) takes back its run's count (river v0.51).
func (h *Handlers) lastAttempt(job *river.Job[deliveryArgs]) bool {
	return job.Attempt >= min(job.MaxAttempts, int(h.maxAttempts()))
}

func describe(o outcome) string {
	if o.err != nil {
		return o.err.Error()
	}
	return "answered " + strconv.Itoa(o.status)
}

// disable turns endpoint off for reason and tells it with a webhook_endpoint.disabled event, in
// q's transaction; an endpoint already off is left as it is.
func (h *Handlers) disable(ctx context.Context, q *db.Queries, brand, endpoint uuid.UUID, reason string) error {
	e, err := q.WebhookEndpointDisable(ctx, db.WebhookEndpointDisableParams{Reason: &reason, Now: h.d.Now(), BrandID: brand, ID: endpoint})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	h.d.Log.WarnContext(ctx, "webhook endpoint disabled", slog.String("endpoint", endpoint.String()), slog.String("reason", reason))
	return events.Emit(ctx, q, brand, h.d.Now(), events.Event{
		Type:      api.EventTypeWebhookEndpointDisabled,
		Aggregate: events.Aggregate{Type: api.EventAggregateTypeWebhookEndpoint, ID: e.ID, Version: e.Version},
		Data:      apiEndpoint(e),
	})
}

// maxRecorded is how much of a receiver's answer an attempt keeps.
const maxRecorded = 1 << 10

func attemptParams(brand, endpoint, delivery uuid.UUID, at time.Time, o outcome, status api.WebhookDeliveryStatus) db.WebhookAttemptRecordParams {
	p := db.WebhookAttemptRecordParams{
		Status: string(status), AttemptedAt: at, BrandID: brand, EndpointID: endpoint, DeliveryID: delivery,
		DurationMs: int32(min(o.duration.Milliseconds(), 1<<31-1)), ResponseBody: o.body, Succeeded: o.ok(), //nolint:gosec // bounded above
	}
	if o.status != 0 {
		s := int32(o.status) //nolint:gosec // an HTTP status
		p.ResponseStatus = &s
	}
	if o.err != nil {
		msg := o.err.Error()
		p.Error = &msg
	}
	return p
}

// send makes one attempt: the delivery's body, signed with every secret that signs now, to the
// endpoint's URL through the guarded client.
func (h *Handlers) send(ctx context.Context, e db.WebhookEndpoint, d db.WebhookDelivery, body []byte) outcome {
	// The timestamp is the real time: the receiver checks it against its own clock.
	sent := time.Now()
	sig, err := signatures(signingSecrets(e, h.d.Now()), d.EventID.String(), sent, body)
	if err != nil {
		return outcome{err: err}
	}
	// Checked again here: the URL may predate a narrower WEBHOOK_ALLOWED_NETWORKS or WEBHOOK_ALLOW_HTTP.
	if msg := h.guard.checkURL(e.Url, h.cfg.AllowHTTP); msg != "" {
		return outcome{err: fmt.Errorf("%w: the URL %s", ErrRefusedAddress, msg)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "EcomPointer-Webhooks/1")
	req.Header.Set("webhook-id", d.EventID.String())
	req.Header.Set("webhook-timestamp", strconv.FormatInt(sent.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := h.client.Do(req)
	if err != nil {
		return outcome{err: err, duration: time.Since(sent)}
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return outcome{status: resp.StatusCode, body: recordable(answer), duration: time.Since(sent)}
}

// recordable is the start of a receiver's answer as text the database takes: at most
// maxRecorded bytes, valid UTF-8, no NUL.
func recordable(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), maxRecorded)]), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
