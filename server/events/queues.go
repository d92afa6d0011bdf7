package events

import (
	"context"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/observe"
)

// QueueDepths counts, through q, the unfinished jobs of the queues Emit enqueues on (webhooks,
// nats) for the queue depth metric (observe.SetJobQueues).
func QueueDepths(q *db.Queries) func(context.Context) ([]observe.QueueDepth, error) {
	return func(ctx context.Context) ([]observe.QueueDepth, error) {
		rows, err := q.JobQueueDepths(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]observe.QueueDepth, len(rows))
		for i, r := range rows {
			out[i] = observe.QueueDepth{Queue: r.Queue, Depth: r.Depth}
		}
		return out, nil
	}
}
