// Package jobs is the one durable job queue of an instance: a single river client working every
// domain's queues (webhook fan-out and delivery, NATS publication, CSV imports). Each domain
// says what it runs through a Domain; the server's wiring starts the client once and stops it
// once, so an instance holds one set of river connections and one leader election, however
// many domains enqueue work.
package jobs

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/ecompointer/ecompointer/server/kit"
)

// Domain is what one domain runs on the queue.
type Domain struct {
	// Name names the domain in errors and logs.
	Name string
	// Register adds the domain's workers. Each worker bounds its own jobs (river's
	// Worker.Timeout), so that one domain's long jobs never stretch another's.
	Register func(*river.Workers)
	// Queues are the domain's queues, each with its own poll interval and concurrency.
	Queues map[string]river.QueueConfig
	// JobTimeout is the longest a job of the domain may run. A job left running by an instance
	// that died is retried once it has outlived every live run of any domain (river's rescuer is
	// the client's, one for all queues).
	JobTimeout time.Duration
	// Drain is how long a stop waits for the domain's jobs in flight before it cancels them
	// (river retries those).
	Drain time.Duration
	// Background runs beside the client until ctx ends (a pruner, a metric); nil: none.
	Background func(ctx context.Context)
}

// rescueMargin is how much longer than the longest job timeout a job may run before river's
// rescuer takes it for abandoned.
const rescueMargin = 30 * time.Second

// Run works the queues of domains until ctx ends; then it stops taking jobs and lets the jobs in
// flight finish (bounded by the longest Drain) before it returns. With no domain it only waits.
func Run(ctx context.Context, d *kit.Deps, domains ...Domain) error {
	if len(domains) == 0 {
		<-ctx.Done()
		return nil
	}
	workers := river.NewWorkers()
	queues := map[string]river.QueueConfig{}
	var longest, drain time.Duration
	for _, dom := range domains {
		dom.Register(workers)
		for name := range dom.Queues {
			if _, dup := queues[name]; dup {
				return fmt.Errorf("jobs: queue %q declared twice (domain %s)", name, dom.Name)
			}
		}
		maps.Copy(queues, dom.Queues)
		longest, drain = max(longest, dom.JobTimeout), max(drain, dom.Drain)
	}
	client, err := river.NewClient(riverpgxv5.New(cmp.Or(d.DirectPool, d.Pool)), &river.Config{
		Queues:  queues,
		Workers: workers,
		Logger:  d.Log,
		// Every worker sets its own timeout; this is the bound of one that does not.
		JobTimeout: longest,
		// A job left running by an instance that died (kill -9, a lost machine) is retried once
		// it has outlived every live run; river's default would hold it for an hour.
		RescueStuckJobsAfter: longest + rescueMargin,
	})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	// The client's own context is not ctx: cancelling it would cut the jobs in flight.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	for _, dom := range domains {
		if dom.Background != nil {
			go dom.Background(ctx)
		}
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		// Still running past the bound: cancel what is left (river retries those jobs).
		return client.StopAndCancel(context.WithoutCancel(ctx))
	}
	return nil
}

// Queue is a queue's configuration polled every poll besides river's notifications
// (0: river's default) and up to maxWorkers jobs at once on an instance.
func Queue(poll time.Duration, maxWorkers int) river.QueueConfig {
	q := river.QueueConfig{MaxWorkers: maxWorkers}
	if poll > 0 {
		q.FetchPollInterval = poll
		// The cooldown may not exceed the poll interval (river refuses the client).
		q.FetchCooldown = min(poll, river.FetchCooldownDefault)
	}
	return q
}
