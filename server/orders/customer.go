package orders

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/problem"
)

// CustomerMissing: the customerId an order names is not one of the brand's customers (404).
type CustomerMissing struct{}

func (e *CustomerMissing) Error() string { return "no such customer" }

// Code is the refusal's problem code.
func (e *CustomerMissing) Code() api.ProblemCode { return api.ProblemCodeNotFound }

// placedBy is the customer an order belongs to and the snapshot the order keeps of them.
type placedBy struct {
	id    uuid.UUID
	email string
	name  string
	phone *string
}

// customerChoice refuses an order that names no customer, or two (400).
func customerChoice(body *api.CreateOrderRequest) error {
	switch {
	case body.CustomerId == nil && body.Customer == nil:
		return problem.RefuseField("customer", "give customerId or customer")
	case body.CustomerId != nil && body.Customer != nil:
		return problem.RefuseField("customerId", "give customerId or customer, not both")
	}
	return nil
}

// resolveCustomer finds the order's customer: the one customerId names, or the brand's customer
// with the inline customer's email (any case), created now (with the shipping address) when there
// is none. It runs first in the order's transaction: the only lock it may wait for is another
// order's creating the same customer, and that order holds nothing this one could hold first.
// The snapshot is what the order was placed with: the inline customer as given, or the record.
func resolveCustomer(ctx context.Context, tx db.DBTX, brand uuid.UUID, body *api.CreateOrderRequest, address []byte, now time.Time) (placedBy, error) {
	q := db.New(tx)
	if body.CustomerId != nil {
		c, err := q.CustomerGet(ctx, db.CustomerGetParams{BrandID: brand, ID: *body.CustomerId})
		if errors.Is(err, pgx.ErrNoRows) {
			return placedBy{}, &CustomerMissing{}
		}
		if err != nil {
			return placedBy{}, err
		}
		return placedBy{id: c.ID, email: c.Email, name: c.Name, phone: c.Phone}, nil
	}
	in := body.Customer
	email := strings.ToLower(string(in.Email))
	c, err := q.CustomerFindOrCreate(ctx, db.CustomerFindOrCreateParams{
		BrandID: brand, ID: uuid.Must(uuid.NewV7()), Email: email, Name: in.Name,
		Phone: in.Phone, Addresses: append(append([]byte("["), address...), ']'), Now: now,
	})
	id := c.ID
	if errors.Is(err, pgx.ErrNoRows) {
		// Another order created the customer after this statement's snapshot was taken (its
		// insert was waited for, then skipped): a new statement sees it.
		var found db.Customer
		found, err = q.CustomerByEmail(ctx, db.CustomerByEmailParams{BrandID: brand, Email: email})
		id = found.ID
	}
	if err != nil {
		return placedBy{}, err
	}
	return placedBy{id: id, email: string(in.Email), name: in.Name, phone: in.Phone}, nil
}
