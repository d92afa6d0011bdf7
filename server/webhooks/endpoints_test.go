package webhooks_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	created := e.endpoint(t, "https://hooks.example.com/a", "product.created")
	desc := "second"
	second, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{
		Url: "https://hooks.example.com/b", EventTypes: []string{"*"}, Description: &desc,
	}, e.auth())
	if err != nil || second.JSON201 == nil || second.HTTPResponse.Header.Get("Location") != "/brands/"+e.brand.String()+"/webhook-endpoints/"+second.JSON201.Id.String() {
		t.Fatalf("create = %v %d %s", err, second.StatusCode(), second.Body)
	}

	got, err := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, created.Id, e.auth())
	if err != nil || got.JSON200 == nil || got.JSON200.Secret != nil || got.JSON200.Url != created.Url || got.HTTPResponse.Header.Get("ETag") != `"1"` {
		t.Fatalf("get = %v %s (ETag %s)", err, got.Body, got.HTTPResponse.Header.Get("ETag"))
	}

	list, err := e.Client.ListWebhookEndpointsWithResponse(ctx, e.brand, &api.ListWebhookEndpointsParams{Limit: new(1)}, e.auth())
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Id != created.Id || list.JSON200.NextCursor == nil {
		t.Fatalf("list = %v %s", err, list.Body)
	}
	rest, err := e.Client.ListWebhookEndpointsWithResponse(ctx, e.brand, &api.ListWebhookEndpointsParams{Cursor: list.JSON200.NextCursor}, e.auth())
	if err != nil || rest.JSON200 == nil || len(rest.JSON200.Items) != 1 || rest.JSON200.Items[0].Id != second.JSON201.Id || rest.JSON200.NextCursor != nil {
		t.Fatalf("list page 2 = %v %s", err, rest.Body)
	}

	stale := `"7"`
	if r, _ := e.Client.UpdateWebhookEndpointWithResponse(ctx, e.brand, created.Id, &api.UpdateWebhookEndpointParams{IfMatch: &stale},
		api.UpdateWebhookEndpointRequest{Enabled: new(false)}, e.auth()); r.StatusCode() != http.StatusPreconditionFailed {
		t.Errorf("stale PATCH = %d %s", r.StatusCode(), r.Body)
	}
	current := `"1"`
	upd, err := e.Client.UpdateWebhookEndpointWithResponse(ctx, e.brand, second.JSON201.Id, &api.UpdateWebhookEndpointParams{IfMatch: &current},
		api.UpdateWebhookEndpointRequest{Enabled: new(false), Description: nullable.NewNullNullable[string](), EventTypes: &api.WebhookEventTypes{"order.created"}}, e.auth())
	if err != nil || upd.JSON200 == nil || upd.JSON200.Enabled || upd.JSON200.Description != nil || upd.JSON200.EventTypes[0] != "order.created" || upd.JSON200.Version != 2 {
		t.Fatalf("PATCH = %v %s", err, upd.Body)
	}
	bad, _ := e.Client.UpdateWebhookEndpointWithResponse(ctx, e.brand, created.Id, nil, api.UpdateWebhookEndpointRequest{Url: new("https://10.0.0.1/")}, e.auth())
	if bad.ApplicationproblemJSON400 == nil || (*bad.ApplicationproblemJSON400.Errors)[0].Field != "url" {
		t.Errorf("PATCH to a private address = %d %s", bad.StatusCode(), bad.Body)
	}

	if r, _ := e.Client.DeleteWebhookEndpointWithResponse(ctx, e.brand, created.Id, &api.DeleteWebhookEndpointParams{IfMatch: &stale}, e.auth()); r.StatusCode() != http.StatusPreconditionFailed {
		t.Errorf("stale DELETE = %d", r.StatusCode())
	}
	if r, _ := e.Client.DeleteWebhookEndpointWithResponse(ctx, e.brand, created.Id, &api.DeleteWebhookEndpointParams{IfMatch: &current}, e.auth()); r.StatusCode() != http.StatusNoContent {
		t.Errorf("DELETE = %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, created.Id, e.auth()); r.StatusCode() != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d", r.StatusCode())
	}
}

// Another brand's endpoint and delivery ids answer 404 on every operation, and change nothing.
func TestAnotherBrandsIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	r := newReceiver(t, always(http.StatusOK))
	theirs := e.endpoint(t, r.URL)
	e.product(t, "WH-THEIRS")
	r.next(t)
	delivery := e.settled(t, theirs.Id)

	other := e.Register(t, servertest.Email("wh-other"))
	mine := other.User.BrandId
	as := servertest.Bearer(other.AccessToken)
	for _, tc := range []struct {
		name string
		call func() (int, error)
	}{
		{"get", func() (int, error) {
			r, err := e.Client.GetWebhookEndpointWithResponse(ctx, *mine, theirs.Id, as)
			return r.StatusCode(), err
		}},
		{"patch", func() (int, error) {
			r, err := e.Client.UpdateWebhookEndpointWithResponse(ctx, *mine, theirs.Id, nil, api.UpdateWebhookEndpointRequest{Enabled: new(false)}, as)
			return r.StatusCode(), err
		}},
		{"rotate", func() (int, error) {
			r, err := e.Client.RotateWebhookEndpointSecretWithResponse(ctx, *mine, theirs.Id, as)
			return r.StatusCode(), err
		}},
		{"test", func() (int, error) {
			r, err := e.Client.TestWebhookEndpointWithResponse(ctx, *mine, theirs.Id, as)
			return r.StatusCode(), err
		}},
		{"deliveries", func() (int, error) {
			r, err := e.Client.ListWebhookDeliveriesWithResponse(ctx, *mine, theirs.Id, nil, as)
			return r.StatusCode(), err
		}},
		{"retry", func() (int, error) {
			r, err := e.Client.RetryWebhookDeliveryWithResponse(ctx, *mine, theirs.Id, delivery.Id, as)
			return r.StatusCode(), err
		}},
		{"retry under the right endpoint id of another", func() (int, error) {
			r, err := e.Client.RetryWebhookDeliveryWithResponse(ctx, e.brand, uuid.Must(uuid.NewV7()), delivery.Id, e.auth())
			return r.StatusCode(), err
		}},
		{"delete", func() (int, error) {
			r, err := e.Client.DeleteWebhookEndpointWithResponse(ctx, *mine, theirs.Id, nil, as)
			return r.StatusCode(), err
		}},
		{"their brand's path", func() (int, error) {
			r, err := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, theirs.Id, as)
			return r.StatusCode(), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, err := tc.call(); err != nil || status != http.StatusNotFound {
				t.Errorf("= %d %v, want 404", status, err)
			}
		})
	}
	// Untouched: still enabled, still version 1, its secret unrotated, no ping queued.
	got, _ := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, theirs.Id, e.auth())
	if got.JSON200 == nil || !got.JSON200.Enabled || got.JSON200.Version != 1 {
		t.Errorf("their endpoint = %s", got.Body)
	}
	if ds := e.deliveries(t, theirs.Id); len(ds) != 1 {
		t.Errorf("their deliveries = %d", len(ds))
	}
}

func TestWebhookPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	ep := e.endpoint(t, "https://hooks.example.com/a")
	for _, role := range []api.InvitationRole{api.InvitationRoleMANAGER, api.InvitationRoleSTAFF} {
		t.Run(string(role), func(t *testing.T) {
			m := e.Member(t, e.owner, role)
			as := servertest.Bearer(m.AccessToken)
			list, _ := e.Client.ListWebhookEndpointsWithResponse(ctx, e.brand, nil, as)
			create, _ := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: "https://hooks.example.com/m", EventTypes: []string{"*"}}, as)
			rotate, _ := e.Client.RotateWebhookEndpointSecretWithResponse(ctx, e.brand, ep.Id, as)
			want := http.StatusOK
			wantCreate := http.StatusCreated
			if role == api.InvitationRoleSTAFF {
				want, wantCreate = http.StatusForbidden, http.StatusForbidden
			}
			if list.StatusCode() != want || create.StatusCode() != wantCreate || rotate.StatusCode() != want {
				t.Errorf("list %d, create %d, rotate %d", list.StatusCode(), create.StatusCode(), rotate.StatusCode())
			}
		})
	}
}
