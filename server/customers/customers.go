// Package customers is a brand's customers (issue 21): found again by email (lowercased, unique
// per brand) when they order, their details and addresses, and the privacy request that
// anonymises them. Orders name their customer (orders.customer_id) and keep their own snapshot of
// what they were placed with, so a customer with orders is never deleted, only anonymised; the
// orders package lists a customer's orders and finds or creates the customer an order names.
package customers

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Handlers implements the customers operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
}

// New returns the customers handlers.
func New(d *kit.Deps) *Handlers {
	return &Handlers{d: d}
}

// emailKey is the unique constraint that keeps one customer per email in a brand.
const emailKey = "customers_email_key"

var (
	errEmailTaken = problem.Refuse(api.ProblemCodeCustomerEmailTaken, "Another customer of this brand has this email.")
	errNotFound   = problem.Refuse(api.ProblemCodeNotFound, "No such customer.")
)

func apiCustomer(c db.Customer) (api.CustomerRecord, error) {
	addresses := []api.Address{}
	if err := json.Unmarshal(c.Addresses, &addresses); err != nil {
		return api.CustomerRecord{}, err
	}
	return api.CustomerRecord{
		Id: c.ID, BrandId: c.BrandID, Email: openapi_types.Email(c.Email), Name: c.Name, Phone: c.Phone, Addresses: addresses,
		AnonymizedAt: utc(c.AnonymizedAt), Version: c.Version, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}, nil
}

func addressesJSON(a *api.CustomerAddresses) ([]byte, error) {
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(*a)
}

// refusal maps the customers' errors to their problems.
func refusal(err error) error {
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return errNotFound
	case errors.Is(err, kit.ErrStale):
		return respond.PreconditionFailed("customer")
	case kit.IsConflict(err, emailKey):
		return errEmailTaken
	}
	return err
}

// CreateCustomer adds a customer to the brand.
func (h *Handlers) CreateCustomer(ctx context.Context, req api.CreateCustomerRequestObject) (api.CreateCustomerResponseObject, error) {
	body := req.Body
	addresses, err := addressesJSON(body.Addresses)
	if err != nil {
		return nil, err
	}
	c, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (db.Customer, error) {
		return db.New(tx).CustomerCreate(ctx, db.CustomerCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), Email: strings.ToLower(string(body.Email)), Name: body.Name,
			Phone: body.Phone, Addresses: addresses, Now: h.d.Now(),
		})
	})
	if err != nil {
		return nil, refusal(err)
	}
	out, err := apiCustomer(c)
	if err != nil {
		return nil, err
	}
	return api.CreateCustomer201JSONResponse{Body: out, Headers: api.CreateCustomer201ResponseHeaders{
		ETag: respond.ETag(c.Version), Location: respond.Location("/brands/", req.BrandId.String(), "/customers/", c.ID.String()),
	}}, nil
}

// GetCustomer answers one customer.
func (h *Handlers) GetCustomer(ctx context.Context, req api.GetCustomerRequestObject) (api.GetCustomerResponseObject, error) {
	c, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (db.Customer, error) {
		c, err := db.New(tx).CustomerGet(ctx, db.CustomerGetParams{BrandID: req.BrandId, ID: req.CustomerId})
		return c, kit.DBError(err)
	})
	if err != nil {
		return nil, refusal(err)
	}
	out, err := apiCustomer(c)
	if err != nil {
		return nil, err
	}
	return api.GetCustomer200JSONResponse{Body: out, Headers: api.GetCustomer200ResponseHeaders{ETag: respond.ETag(c.Version)}}, nil
}

// lock locks the customer and checks If-Match against its version.
func lock(ctx context.Context, q *db.Queries, brand, id uuid.UUID, ifMatch *string) (db.Customer, error) {
	c, err := q.CustomerLock(ctx, db.CustomerLockParams{BrandID: brand, ID: id})
	if err != nil {
		return c, kit.DBError(err)
	}
	if versions := respond.IfMatch(ifMatch); versions != nil && !slices.Contains(versions, c.Version) {
		return c, kit.ErrStale
	}
	return c, nil
}

// UpdateCustomer changes the fields given, honouring If-Match.
func (h *Handlers) UpdateCustomer(ctx context.Context, req api.UpdateCustomerRequestObject) (api.UpdateCustomerResponseObject, error) {
	body := req.Body
	var email *string
	if body.Email != nil {
		e := strings.ToLower(string(*body.Email))
		email = &e
	}
	var addresses []byte
	if body.Addresses != nil {
		var err error
		if addresses, err = addressesJSON(body.Addresses); err != nil {
			return nil, err
		}
	}
	p := db.CustomerUpdateParams{BrandID: req.BrandId, ID: req.CustomerId, Email: email, Name: body.Name, Addresses: addresses, Now: h.d.Now()}
	if body.Phone.IsSpecified() {
		p.SetPhone = true
		if !body.Phone.IsNull() {
			phone := body.Phone.MustGet()
			p.Phone = &phone
		}
	}
	c, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (db.Customer, error) {
		q := db.New(tx)
		if _, err := lock(ctx, q, req.BrandId, req.CustomerId, req.Params.IfMatch); err != nil {
			return db.Customer{}, err
		}
		return q.CustomerUpdate(ctx, p)
	})
	if err != nil {
		return nil, refusal(err)
	}
	out, err := apiCustomer(c)
	if err != nil {
		return nil, err
	}
	return api.UpdateCustomer200JSONResponse{Body: out, Headers: api.UpdateCustomer200ResponseHeaders{ETag: respond.ETag(c.Version)}}, nil
}

// errHasOrders: the customer has orders (a foreign key refers to it).
var errHasOrders = problem.Refuse(api.ProblemCodeCustomerHasOrders, "This customer has orders: anonymise it instead.")

// DeleteCustomer deletes a customer without orders.
func (h *Handlers) DeleteCustomer(ctx context.Context, req api.DeleteCustomerRequestObject) (api.DeleteCustomerResponseObject, error) {
	_, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (int64, error) {
		q := db.New(tx)
		if _, err := lock(ctx, q, req.BrandId, req.CustomerId, req.Params.IfMatch); err != nil {
			return 0, err
		}
		// An order that names the customer refuses the delete (orders_customer_fkey).
		n, err := q.CustomerDelete(ctx, db.CustomerDeleteParams{BrandID: req.BrandId, ID: req.CustomerId})
		if kit.IsReferenced(err) {
			return 0, errHasOrders
		}
		return n, err
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.DeleteCustomer204Response{}, nil
}

// AnonymizeCustomer replaces what identifies the customer; orders keep their snapshot.
func (h *Handlers) AnonymizeCustomer(ctx context.Context, req api.AnonymizeCustomerRequestObject) (api.AnonymizeCustomerResponseObject, error) {
	c, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (db.Customer, error) {
		q := db.New(tx)
		if _, err := lock(ctx, q, req.BrandId, req.CustomerId, req.Params.IfMatch); err != nil {
			return db.Customer{}, err
		}
		// Unique per customer (so the email key holds) and in a reserved domain (RFC 2606).
		return q.CustomerAnonymize(ctx, db.CustomerAnonymizeParams{
			BrandID: req.BrandId, ID: req.CustomerId, Email: "anonymized+" + req.CustomerId.String() + "@invalid.example", Now: h.d.Now(),
		})
	})
	if err != nil {
		return nil, refusal(err)
	}
	out, err := apiCustomer(c)
	if err != nil {
		return nil, err
	}
	return api.AnonymizeCustomer200JSONResponse{Body: out, Headers: api.AnonymizeCustomer200ResponseHeaders{ETag: respond.ETag(c.Version)}}, nil
}

// ListCustomers pages through the brand's customers, newest first.
func (h *Handlers) ListCustomers(ctx context.Context, req api.ListCustomersRequestObject) (api.ListCustomersResponseObject, error) {
	p := req.Params
	type position struct {
		ID uuid.UUID `json:"id"`
	}
	page, err := paging.List(h.d.Cursors, "customers/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *position, limit int32) ([]db.Customer, error) {
			var before *uuid.UUID
			if after != nil {
				before = &after.ID
			}
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]db.Customer, error) {
				return db.New(tx).CustomerList(ctx, db.CustomerListParams{BrandID: req.BrandId, Q: p.Q, BeforeID: before, RowLimit: limit})
			})
		},
		func(c db.Customer) position { return position{ID: c.ID} },
		apiCustomer)
	if err != nil {
		return nil, err
	}
	return api.ListCustomers200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
