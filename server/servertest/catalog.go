package servertest

import (
	"context"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
)

// CreateProduct creates a product in owner's brand through the API.
func (e *Env) CreateProduct(t testing.TB, owner api.AuthResponse, body api.CreateProductRequest) api.Product {
	t.Helper()
	resp, err := e.Client.CreateProductWithResponse(context.Background(), *owner.User.BrandId, body, Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create product %s: %v %d %s", body.Sku, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}
