package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// RotationOverlap is how long the previous secret keeps signing after a rotation.
const RotationOverlap = 24 * time.Hour

func apiEndpoint(e db.WebhookEndpoint) api.WebhookEndpoint {
	return api.WebhookEndpoint{
		Id: e.ID, BrandId: e.BrandID, Url: e.Url, EventTypes: e.EventTypes, Description: e.Description,
		Enabled: e.Enabled, DisabledReason: e.DisabledReason, Version: e.Version,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
}

// withSecret is the endpoint as creation and rotation answer it: the only times the secret shows.
func withSecret(e db.WebhookEndpoint) api.WebhookEndpoint {
	out := apiEndpoint(e)
	out.Secret = &e.Secret
	return out
}

// checkEndpoint applies what the schema cannot say: the URL's scheme, user information and
// address, and event types the server knows.
func (h *Handlers) checkEndpoint(url *string, types *[]string) []api.FieldError {
	var bad []api.FieldError
	if url != nil {
		if msg := h.guard.checkURL(*url, h.cfg.AllowHTTP); msg != "" {
			bad = append(bad, api.FieldError{Field: "url", Message: msg})
		}
	}
	if types != nil {
		for _, t := range *types {
			if t == "*" && len(*types) > 1 {
				bad = append(bad, api.FieldError{Field: "eventTypes", Message: `"*" stands alone: it already takes every type`})
			}
			if t != "*" && !api.EventType(t).Valid() {
				bad = append(bad, api.FieldError{Field: "eventTypes", Message: fmt.Sprintf("%q is not an event type", t)})
			}
		}
	}
	return bad
}

// CreateWebhookEndpoint adds an endpoint with a fresh secret, shown in this answer only.
func (h *Handlers) CreateWebhookEndpoint(ctx context.Context, req api.CreateWebhookEndpointRequestObject) (api.CreateWebhookEndpointResponseObject, error) {
	body := req.Body
	types := body.EventTypes
	if bad := h.checkEndpoint(&body.Url, &types); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	enabled := body.Enabled == nil || *body.Enabled
	e, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookEndpoint, error) {
		return q.WebhookEndpointCreate(ctx, db.WebhookEndpointCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), Url: body.Url, EventTypes: types,
			Description: body.Description, Enabled: enabled, Secret: newSecret(), Now: h.d.Now(),
		})
	})
	if err != nil {
		return nil, err
	}
	return api.CreateWebhookEndpoint201JSONResponse{Body: withSecret(e), Headers: api.CreateWebhookEndpoint201ResponseHeaders{
		ETag:     respond.ETag(e.Version),
		Location: respond.Location("/brands/", e.BrandID.String(), "/webhook-endpoints/", e.ID.String()),
	}}, nil
}

// GetWebhookEndpoint answers one endpoint, without its secret.
func (h *Handlers) GetWebhookEndpoint(ctx context.Context, req api.GetWebhookEndpointRequestObject) (api.GetWebhookEndpointResponseObject, error) {
	e, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookEndpoint, error) {
		e, err := q.WebhookEndpointGet(ctx, db.WebhookEndpointGetParams{BrandID: req.BrandId, ID: req.EndpointId})
		return e, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, noSuchEndpoint)
	}
	if err != nil {
		return nil, err
	}
	return api.GetWebhookEndpoint200JSONResponse{Body: apiEndpoint(e), Headers: api.GetWebhookEndpoint200ResponseHeaders{ETag: respond.ETag(e.Version)}}, nil
}

const noSuchEndpoint = "No such webhook endpoint."

// ListWebhookEndpoints pages through the brand's endpoints, oldest first.
func (h *Handlers) ListWebhookEndpoints(ctx context.Context, req api.ListWebhookEndpointsRequestObject) (api.ListWebhookEndpointsResponseObject, error) {
	page, err := paging.ByID(h.d.Cursors, "webhook-endpoints/"+req.BrandId.String(), req.Params.Cursor, req.Params.Limit,
		func(after *uuid.UUID, limit int32) ([]db.WebhookEndpoint, error) {
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.WebhookEndpoint, error) {
				return q.WebhookEndpointList(ctx, db.WebhookEndpointListParams{BrandID: req.BrandId, AfterID: after, RowLimit: limit})
			})
		},
		func(e db.WebhookEndpoint) uuid.UUID { return e.ID },
		paging.Infallible(apiEndpoint))
	if err != nil {
		return nil, err
	}
	return api.ListWebhookEndpoints200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// UpdateWebhookEndpoint changes the fields given, honouring If-Match.
func (h *Handlers) UpdateWebhookEndpoint(ctx context.Context, req api.UpdateWebhookEndpointRequestObject) (api.UpdateWebhookEndpointResponseObject, error) {
	body := req.Body
	params := db.WebhookEndpointUpdateParams{
		BrandID: req.BrandId, ID: req.EndpointId, Url: body.Url, Enabled: body.Enabled,
		ExpectedVersions: respond.IfMatch(req.Params.IfMatch), Now: h.d.Now(),
	}
	var types *[]string
	if body.EventTypes != nil {
		t := *body.EventTypes
		types, params.EventTypes = &t, t
	}
	if bad := h.checkEndpoint(body.Url, types); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	if body.Description.IsSpecified() {
		if body.Description.IsNull() {
			params.ClearDescription = true
		} else {
			d := body.Description.MustGet()
			params.Description = &d
		}
	}
	e, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookEndpoint, error) {
		e, err := q.WebhookEndpointUpdate(ctx, params)
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return e, kit.Stale(q.WebhookEndpointGet(ctx, db.WebhookEndpointGetParams{BrandID: req.BrandId, ID: req.EndpointId}))
		}
		return e, err
	})
	if err != nil {
		return nil, respond.Unmet(err, noSuchEndpoint, "webhook endpoint")
	}
	return api.UpdateWebhookEndpoint200JSONResponse{Body: apiEndpoint(e), Headers: api.UpdateWebhookEndpoint200ResponseHeaders{ETag: respond.ETag(e.Version)}}, nil
}

// DeleteWebhookEndpoint deletes an endpoint and its history, honouring If-Match. Its jobs still
// queued find no delivery and end.
func (h *Handlers) DeleteWebhookEndpoint(ctx context.Context, req api.DeleteWebhookEndpointRequestObject) (api.DeleteWebhookEndpointResponseObject, error) {
	_, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (int64, error) {
		n, err := q.WebhookEndpointDelete(ctx, db.WebhookEndpointDeleteParams{BrandID: req.BrandId, ID: req.EndpointId, ExpectedVersions: respond.IfMatch(req.Params.IfMatch)})
		if err == nil && n == 0 {
			return n, kit.Stale(q.WebhookEndpointGet(ctx, db.WebhookEndpointGetParams{BrandID: req.BrandId, ID: req.EndpointId}))
		}
		return n, err
	})
	if err != nil {
		return nil, respond.Unmet(err, noSuchEndpoint, "webhook endpoint")
	}
	return api.DeleteWebhookEndpoint204Response{}, nil
}

// RotateWebhookEndpointSecret gives the endpoint a new secret; the previous one keeps signing for
// RotationOverlap.
func (h *Handlers) RotateWebhookEndpointSecret(ctx context.Context, req api.RotateWebhookEndpointSecretRequestObject) (api.RotateWebhookEndpointSecretResponseObject, error) {
	now := h.d.Now()
	e, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.WebhookEndpoint, error) {
		e, err := q.WebhookEndpointRotate(ctx, db.WebhookEndpointRotateParams{
			BrandID: req.BrandId, ID: req.EndpointId, Secret: newSecret(), PreviousUntil: new(now.Add(RotationOverlap)), Now: now,
		})
		return e, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, noSuchEndpoint)
	}
	if err != nil {
		return nil, err
	}
	return api.RotateWebhookEndpointSecret200JSONResponse{Body: withSecret(e), Headers: api.RotateWebhookEndpointSecret200ResponseHeaders{ETag: respond.ETag(e.Version)}}, nil
}

// signingSecrets are the secrets that sign a delivery to e at now.
func signingSecrets(e db.WebhookEndpoint, now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != nil && e.PreviousSecretUntil != nil && now.Before(*e.PreviousSecretUntil) {
		out = append(out, *e.PreviousSecret)
	}
	return out
}
