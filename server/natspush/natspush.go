// Package natspush publishes every event to NATS JetStream for internal consumers at scale
// (EVENTS_NATS_URL): events.Emit enqueues a nats_publish river job in the transaction of the
// change (queries/events.sql), so a message is published exactly when the change committed, and
// river retries it until NATS takes it. The message id is the event id, so JetStream drops the
// duplicate of a job run twice within the stream's duplicate window.
package natspush

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/jobs"
	"github.com/ecompointer/ecompointer/server/kit"
)

// queue is river's queue of publications (queries/events.sql enqueues on it).
const queue = "nats"

// Stream is the JetStream stream that holds the events; SubjectPrefix starts every subject
// (ecompointer.<brandId>.<type>).
const (
	Stream        = "ECOMPOINTER_EVENTS"
	SubjectPrefix = "ecompointer"
)

// DuplicateWindow is how long JetStream remembers a message id: a job retried or run twice within
// it publishes once.
const DuplicateWindow = 2 * time.Minute

// Config sets the publication.
type Config struct {
	// URL is the NATS server (EVENTS_NATS_URL); empty: events are not published.
	URL string
	// PollInterval is how often the queue is polled besides river's notifications (0: 1 s).
	PollInterval time.Duration
}

// Subject is where an event of brand and type is published.
func Subject(brand uuid.UUID, eventType string) string {
	return SubjectPrefix + "." + brand.String() + "." + eventType
}

// Connect connects to cfg.URL and creates or updates the stream.
func Connect(ctx context.Context, cfg Config) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(cfg.URL, nats.Name("ecompointer"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: Stream, Subjects: []string{SubjectPrefix + ".>"}, Duplicates: DuplicateWindow,
			Storage: jetstream.FileStorage,
		})
	}
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: stream %s: %w", Stream, err)
	}
	return nc, js, nil
}

// Run connects, then works the publication jobs on a queue of its own until ctx ends (tests use
// it alone; a server runs Domain on the shared queue); then it lets the publications in flight
// finish before it returns.
func Run(ctx context.Context, d *kit.Deps, cfg Config) error {
	dom, closeConn, err := Domain(ctx, d, cfg)
	if err != nil {
		return err
	}
	defer closeConn()
	return jobs.Run(ctx, d, dom)
}

// Domain connects to NATS and returns the publication worker for the shared job queue
// (server/jobs); closeConn ends the connection once the queue has stopped.
func Domain(ctx context.Context, d *kit.Deps, cfg Config) (dom jobs.Domain, closeConn func(), err error) {
	nc, js, err := Connect(ctx, cfg)
	if err != nil {
		return jobs.Domain{}, nil, err
	}
	return jobs.Domain{
		Name:       "natspush",
		Register:   func(w *river.Workers) { river.AddWorker(w, &worker{d: d, js: js}) },
		Queues:     map[string]river.QueueConfig{queue: jobs.Queue(cfg.PollInterval, 20)},
		JobTimeout: jobTimeout,
		Drain:      15 * time.Second,
	}, nc.Close, nil
}

// jobTimeout bounds one publication.
const jobTimeout = 30 * time.Second

type publishArgs struct {
	BrandID uuid.UUID `json:"brandId"`
	EventID uuid.UUID `json:"eventId"`
}

func (publishArgs) Kind() string { return "nats_publish" }

// worker publishes one event; an error (NATS down, no acknowledgement) leaves the retry to river.
type worker struct {
	river.WorkerDefaults[publishArgs]
	d  *kit.Deps
	js jetstream.JetStream
}

// Timeout bounds one publication.
func (w *worker) Timeout(*river.Job[publishArgs]) time.Duration { return jobTimeout }

func (w *worker) Work(ctx context.Context, job *river.Job[publishArgs]) error {
	return notAnAttempt(publish(ctx, w.d, w.js, job.Args.BrandID, job.Args.EventID))
}

// notAnAttempt turns a brand whose share of the pool stayed busy (kit.ErrBrandBusy) into a
// snooze: available again at once, not an attempt. Counted, a load lasting long enough would
// spend the job's 25 attempts and river would drop it unpublished. The gate's wait paces the
// re-runs.
func notAnAttempt(err error) error {
	if errors.Is(err, kit.ErrBrandBusy) {
		return river.JobSnooze(0)
	}
	return err
}

// publish sends the event as the feed shows it, with the event id as Nats-Msg-Id.
func publish(ctx context.Context, d *kit.Deps, js jetstream.JetStream, brand, id uuid.UUID) error {
	ev, err := kit.ReadInBrand(ctx, d, brand, func(q *db.Queries) (db.EventGetRow, error) {
		return q.EventGet(ctx, db.EventGetParams{BrandID: brand, ID: id})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // pruned before it was worked
	}
	if err != nil {
		return err
	}
	msg := nats.NewMsg(Subject(brand, ev.Type))
	msg.Data = ev.Envelope
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID.String())
	_, err = js.PublishMsg(ctx, msg)
	return err
}
