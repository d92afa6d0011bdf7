package customers_test

import (
	"context"
	"testing"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// TestCustomers: an inline customer is found again by email in any case (one customer, two
// orders), an order can name a customer by id, the email is unique per brand in any case,
// anonymising keeps every order's snapshot, and a customer with orders cannot be deleted.
func TestCustomers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "customers")
	p := b.Product(t, "CUST-1")
	wh := b.Location(t, "CUST-WH")
	b.Receive(t, p.Id, wh.Id, 10)
	c := env.Client

	order := func(customer *api.Customer, id *openapi_types.UUID) *api.CreateOrderResponse {
		body := servertest.OrderBody(servertest.OrderLine(p.Id, 1))
		body.Customer, body.CustomerId = customer, id
		return b.CreateOrder(t, servertest.NewKey(), body)
	}
	first := order(&api.Customer{Email: "Grace@Example.com", Name: "Grace Hopper"}, nil).JSON201
	second := order(&api.Customer{Email: "grace@EXAMPLE.com", Name: "G. Hopper"}, nil).JSON201
	if first == nil || second == nil || first.CustomerId == nil || second.CustomerId == nil || *first.CustomerId != *second.CustomerId {
		t.Fatalf("the same email in another case is another customer: %v %v", first, second)
	}
	id := *first.CustomerId
	if first.Customer.Email != "Grace@Example.com" || second.Customer.Name != "G. Hopper" {
		t.Errorf("snapshots %+v %+v, want each as placed", first.Customer, second.Customer)
	}
	got, err := c.GetCustomerWithResponse(ctx, b.Brand, id, b.Auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Email != "grace@example.com" || got.JSON200.Name != "Grace Hopper" || len(got.JSON200.Addresses) != 1 {
		t.Fatalf("the customer created with the first order: %v %s", err, got.Body)
	}
	third := order(nil, &id).JSON201
	if third == nil || *third.CustomerId != id || third.Customer.Email != "grace@example.com" {
		t.Fatalf("order by customerId: %+v", third)
	}
	for name, r := range map[string]*api.CreateOrderResponse{
		"neither":          order(nil, nil),
		"both":             order(&api.Customer{Email: "x@example.com", Name: "X"}, &id),
		"unknown customer": order(nil, &p.Id),
	} {
		want, code, pr := 400, api.ProblemCodeValidationFailed, r.ApplicationproblemJSON400
		if name == "unknown customer" {
			want, code, pr = 404, api.ProblemCodeNotFound, r.ApplicationproblemJSON404
		}
		servertest.StatusIs(t, name, r.HTTPResponse, pr, want, code)
	}
	orders, err := c.ListCustomerOrdersWithResponse(ctx, b.Brand, id, &api.ListCustomerOrdersParams{}, b.Auth)
	if err != nil || orders.JSON200 == nil || len(orders.JSON200.Items) != 3 || orders.JSON200.Items[0].Id != third.Id {
		t.Fatalf("the customer's orders: %v %s", err, orders.Body)
	}

	// Created directly; the email is unique per brand in any case; q finds by part of a name.
	ada, err := c.CreateCustomerWithResponse(ctx, b.Brand, api.CreateCustomerRequest{Email: "ada@example.com", Name: "Ada Lovelace"}, b.Auth)
	if err != nil || ada.JSON201 == nil || ada.HTTPResponse.Header.Get("Location") == "" {
		t.Fatalf("create: %v %s", err, ada.Body)
	}
	dup, _ := c.CreateCustomerWithResponse(ctx, b.Brand, api.CreateCustomerRequest{Email: "ADA@example.com", Name: "Other"}, b.Auth)
	servertest.StatusIs(t, "duplicate email", dup.HTTPResponse, dup.ApplicationproblemJSON409, 409, api.ProblemCodeCustomerEmailTaken)
	moved, _ := c.UpdateCustomerWithResponse(ctx, b.Brand, ada.JSON201.Id, &api.UpdateCustomerParams{}, api.UpdateCustomerRequest{Email: new(openapi_types.Email("GRACE@example.com"))}, b.Auth)
	servertest.StatusIs(t, "update to a taken email", moved.HTTPResponse, moved.ApplicationproblemJSON409, 409, api.ProblemCodeCustomerEmailTaken)
	stale := `"99"`
	st, _ := c.UpdateCustomerWithResponse(ctx, b.Brand, ada.JSON201.Id, &api.UpdateCustomerParams{IfMatch: &stale}, api.UpdateCustomerRequest{Name: new("Ada King")}, b.Auth)
	servertest.StatusIs(t, "stale If-Match", st.HTTPResponse, st.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	q := "LOVE"
	found, _ := c.ListCustomersWithResponse(ctx, b.Brand, &api.ListCustomersParams{Q: &q}, b.Auth)
	if found.JSON200 == nil || len(found.JSON200.Items) != 1 || found.JSON200.Items[0].Id != ada.JSON201.Id {
		t.Errorf("q=LOVE: %s", found.Body)
	}
	if del, _ := c.DeleteCustomerWithResponse(ctx, b.Brand, ada.JSON201.Id, &api.DeleteCustomerParams{}, b.Auth); del.StatusCode() != 204 {
		t.Errorf("delete a customer without orders: %d %s", del.StatusCode(), del.Body)
	}

	// Grace has orders: no delete; anonymised, the orders keep what they were placed with.
	del, _ := c.DeleteCustomerWithResponse(ctx, b.Brand, id, &api.DeleteCustomerParams{}, b.Auth)
	servertest.StatusIs(t, "delete with orders", del.HTTPResponse, del.ApplicationproblemJSON409, 409, api.ProblemCodeCustomerHasOrders)
	anon, err := c.AnonymizeCustomerWithResponse(ctx, b.Brand, id, &api.AnonymizeCustomerParams{}, b.Auth)
	if err != nil || anon.JSON200 == nil || anon.JSON200.AnonymizedAt == nil || anon.JSON200.Email == "grace@example.com" ||
		anon.JSON200.Name != "Anonymised customer" || len(anon.JSON200.Addresses) != 0 {
		t.Fatalf("anonymise: %v %s", err, anon.Body)
	}
	if o := b.GetOrder(t, first.Id); o.Customer.Email != "Grace@Example.com" || o.Customer.Name != "Grace Hopper" || *o.CustomerId != id {
		t.Errorf("the order's snapshot after anonymising: %+v", o.Customer)
	}
	// The email is free again: a new order with it makes a new customer.
	next := order(&api.Customer{Email: "grace@example.com", Name: "Grace Hopper"}, nil).JSON201
	if next == nil || *next.CustomerId == id {
		t.Errorf("after anonymising, the email found the anonymised customer: %+v", next)
	}
	env.AssertStock(t, b.Brand)
}
