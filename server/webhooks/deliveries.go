package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
)

// pingType is the type of the deliveries POST …/test makes; no event has it.
const pingType = "ping"

func apiAttempt(a db.WebhookAttempt) api.WebhookAttempt {
	return api.WebhookAttempt{
		AttemptedAt: a.AttemptedAt.UTC(), DurationMs: a.DurationMs, ResponseStatus: a.ResponseStatus,
		ResponseBody: a.ResponseBody, Error: a.Error, Succeeded: a.Succeeded,
	}
}

func apiDelivery(d db.WebhookDelivery, attempts []db.WebhookAttempt) api.WebhookDelivery {
	out := api.WebhookDelivery{
		Id: d.ID, EndpointId: d.EndpointID, EventId: d.EventID, EventType: d.EventType,
		Status: api.WebhookDeliveryStatus(d.Status), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Attempts: make([]api.WebhookAttempt, 0, len(attempts)),
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, apiAttempt(a))
	}
	return out
}

// deliveryPage is a page of deliveries with the attempts of each.
type deliveryPage struct {
	rows     []db.WebhookDelivery
	attempts map[uuid.UUID][]db.WebhookAttempt
}

// ListWebhookDeliveries pages through an endpoint's deliveries, newest first, each with its
// attempts.
func (h *Handlers) ListWebhookDeliveries(ctx context.Context, req api.ListWebhookDeliveriesRequestObject) (api.ListWebhookDeliveriesResponseObject, error) {
	var attempts map[uuid.UUID][]db.WebhookAttempt
	page, err := paging.ByID(h.d.Cursors, "webhook-deliveries/"+req.EndpointId.String(), req.Params.Cursor, req.Params.Limit,
		func(after *uuid.UUID, limit int32) ([]db.WebhookDelivery, error) {
			p, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (deliveryPage, error) {
				if _, err := q.WebhookEndpointGet(ctx, db.WebhookEndpointGetParams{BrandID: req.BrandId, ID: req.EndpointId}); err != nil {
					return deliveryPage{}, kit.DBError(err)
				}
				rows, err := q.WebhookDeliveryList(ctx, db.WebhookDeliveryListParams{BrandID: req.BrandId, EndpointID: req.EndpointId, AfterID: after, RowLimit: limit})
				if err != nil {
					return deliveryPage{}, err
				}
				ids := make([]uuid.UUID, len(rows))
				for i, r := range rows {
					ids[i] = r.ID
				}
				as, err := q.WebhookAttemptsOf(ctx, db.WebhookAttemptsOfParams{BrandID: req.BrandId, DeliveryIds: ids})
				if err != nil {
					return deliveryPage{}, err
				}
				p := deliveryPage{rows: rows, attempts: map[uuid.UUID][]db.WebhookAttempt{}}
				for _, a := range as {
					p.attempts[a.DeliveryID] = append(p.attempts[a.DeliveryID], a)
				}
				return p, nil
			})
			attempts = p.attempts
			return p.rows, err
		},
		func(d db.WebhookDelivery) uuid.UUID { return d.ID },
		func(d db.WebhookDelivery) (api.WebhookDelivery, error) { return apiDelivery(d, attempts[d.ID]), nil })
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, noSuchEndpoint)
	case err != nil:
		return nil, err
	}
	return api.ListWebhookDeliveries200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// pingBody is what a ping delivers: the envelope of an event, about the endpoint.
type pingBody struct {
	ID         uuid.UUID `json:"id"`
	Type       string    `json:"type"`
	BrandID    uuid.UUID `json:"brandId"`
	OccurredAt time.Time `json:"occurredAt"`
	Data       struct {
		EndpointID uuid.UUID `json:"endpointId"`
	} `json:"data"`
}

// TestWebhookEndpoint queues a ping to the endpoint.
func (h *Handlers) TestWebhookEndpoint(ctx context.Context, req api.TestWebhookEndpointRequestObject) (api.TestWebhookEndpointResponseObject, error) {
	now := h.d.Now()
	ping := pingBody{ID: uuid.Must(uuid.NewV7()), Type: pingType, BrandID: req.BrandId, OccurredAt: now.UTC()}
	ping.Data.EndpointID = req.EndpointId
	body, err := json.Marshal(ping)
	if err != nil {
		return nil, err
	}
	d, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookDelivery, error) {
		if _, err := q.WebhookEndpointGet(ctx, db.WebhookEndpointGetParams{BrandID: req.BrandId, ID: req.EndpointId}); err != nil {
			return db.WebhookDelivery{}, kit.DBError(err)
		}
		d, err := q.WebhookDeliveryCreate(ctx, db.WebhookDeliveryCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), EndpointID: req.EndpointId, EventID: ping.ID, EventType: pingType,
			Payload: body, Now: now,
		})
		if err != nil {
			return d, err
		}
		return d, q.WebhookDeliveryEnqueue(ctx, db.WebhookDeliveryEnqueueParams{BrandID: req.BrandId, MaxAttempts: h.maxAttempts(), DeliveryIds: []uuid.UUID{d.ID}})
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, noSuchEndpoint)
	}
	if err != nil {
		return nil, err
	}
	return api.TestWebhookEndpoint202JSONResponse(apiDelivery(d, nil)), nil
}

var errPending = errors.New("delivery pending")

// RetryWebhookDelivery queues one more attempt of a finished delivery.
func (h *Handlers) RetryWebhookDelivery(ctx context.Context, req api.RetryWebhookDeliveryRequestObject) (api.RetryWebhookDeliveryResponseObject, error) {
	d, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookDelivery, error) {
		d, err := q.WebhookDeliveryGet(ctx, db.WebhookDeliveryGetParams{BrandID: req.BrandId, EndpointID: req.EndpointId, ID: req.DeliveryId})
		if err != nil {
			return d, kit.DBError(err)
		}
		if d.Status == string(api.WebhookDeliveryPending) {
			return d, errPending
		}
		d, err = q.WebhookDeliveryReopen(ctx, db.WebhookDeliveryReopenParams{Now: h.d.Now(), BrandID: req.BrandId, EndpointID: req.EndpointId, ID: req.DeliveryId})
		if err != nil {
			return d, err
		}
		return d, q.WebhookDeliveryEnqueue(ctx, db.WebhookDeliveryEnqueueParams{BrandID: req.BrandId, MaxAttempts: h.maxAttempts(), DeliveryIds: []uuid.UUID{d.ID}})
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such delivery of this endpoint.")
	case errors.Is(err, errPending):
		return nil, problem.Refuse(api.ProblemCodeDeliveryPending, "The delivery is still pending: its retries are under way.")
	case err != nil:
		return nil, err
	}
	return api.RetryWebhookDelivery202JSONResponse(apiDelivery(d, nil)), nil
}

// pruneBatch bounds one prune transaction.
const pruneBatch = 5000

// Prune deletes the deliveries (and their attempts) of every brand made more than
// HistoryRetention ago, and says how many.
func Prune(ctx context.Context, d *kit.Deps) (int64, error) {
	cutoff := d.Now().Add(-HistoryRetention)
	var total int64
	for {
		n, err := kit.InTxV(ctx, d, func(q *db.Queries) (int64, error) {
			if err := q.SweeperScopeSet(ctx); err != nil {
				return 0, err
			}
			return q.WebhookDeliveryPrune(ctx, db.WebhookDeliveryPruneParams{Cutoff: cutoff, RowLimit: pruneBatch})
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

func (h *Handlers) runPruner(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := Prune(ctx, h.d)
			observe.SweeperRun("webhook_deliveries", err)
			switch {
			case err != nil && ctx.Err() == nil:
				h.d.Log.WarnContext(ctx, "webhook history prune failed", slog.Any("error", err))
			case n > 0:
				h.d.Log.InfoContext(ctx, "pruned webhook deliveries", slog.Int64("count", n))
			}
		}
	}
}
