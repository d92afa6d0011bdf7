package server_test

import (
	"testing"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// orderBody is a valid order of the given lines.
func orderBody(lines ...api.OrderRequestLine) api.CreateOrderRequest {
	return api.CreateOrderRequest{
		Lines:           lines,
		Customer:        api.Customer{Email: openapi_types.Email("ada@example.com"), Name: "Ada Lovelace"},
		ShippingAddress: api.Address{Line1: "12 Babbage Street", City: "London", Country: "GB"},
	}
}

func oline(product uuid.UUID, n int64) api.OrderRequestLine {
	return api.OrderRequestLine{ProductId: product, Quantity: n}
}

// newKey is a fresh Idempotency-Key.
func newKey() *string {
	k := uuid.NewString()
	return &k
}

// placeOrder places an order of n units of product as owner, or fails the test.
func placeOrder(t *testing.T, env *servertest.Env, owner api.AuthResponse, product uuid.UUID, n int64) api.Order {
	t.Helper()
	resp, err := env.Client.CreateOrderWithResponse(ctx, *owner.User.BrandId, &api.CreateOrderParams{IdempotencyKey: *newKey()},
		orderBody(oline(product, n)), servertest.Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("place order: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}
