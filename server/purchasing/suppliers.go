package purchasing

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

func apiSupplier(s db.Supplier) api.Supplier {
	out := api.Supplier{
		Id: s.ID, BrandId: s.BrandID, Code: s.Code, Name: s.Name, Currency: s.Currency, LeadTimeDays: s.LeadTimeDays,
		ArchivedAt: utc(s.ArchivedAt), Version: s.Version, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(),
	}
	if s.Email != nil {
		e := openapi_types.Email(*s.Email)
		out.Email = &e
	}
	return out
}

func supplierCodeTaken(code string) error {
	return problem.Refuse(api.ProblemCodeSupplierCodeTaken, fmt.Sprintf("Another supplier of this brand has code %q.", code))
}

// CreateSupplier adds a supplier to the brand.
func (h *Handlers) CreateSupplier(ctx context.Context, req api.CreateSupplierRequestObject) (api.CreateSupplierResponseObject, error) {
	b := req.Body
	var email *string
	if b.Email != nil {
		e := string(*b.Email)
		email = &e
	}
	s, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Supplier, error) {
		return q.SupplierCreate(ctx, db.SupplierCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), Code: b.Code, Name: b.Name, Email: email,
			Currency: b.Currency, LeadTimeDays: b.LeadTimeDays, Now: h.d.Now(),
		})
	})
	if kit.IsConflict(err, "suppliers_code_key") {
		return nil, supplierCodeTaken(b.Code)
	}
	if err != nil {
		return nil, err
	}
	return api.CreateSupplier201JSONResponse{Body: apiSupplier(s), Headers: api.CreateSupplier201ResponseHeaders{
		ETag:     respond.ETag(s.Version),
		Location: respond.Location("/brands/", s.BrandID.String(), "/suppliers/", s.ID.String()),
	}}, nil
}

// GetSupplier answers one supplier with its version as ETag.
func (h *Handlers) GetSupplier(ctx context.Context, req api.GetSupplierRequestObject) (api.GetSupplierResponseObject, error) {
	s, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Supplier, error) {
		s, err := q.SupplierGet(ctx, db.SupplierGetParams{BrandID: req.BrandId, ID: req.SupplierId})
		return s, kit.DBError(err)
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such supplier.", "supplier")
	}
	return api.GetSupplier200JSONResponse{Body: apiSupplier(s), Headers: api.GetSupplier200ResponseHeaders{ETag: respond.ETag(s.Version)}}, nil
}

// ListSuppliers pages through the brand's suppliers, oldest first.
func (h *Handlers) ListSuppliers(ctx context.Context, req api.ListSuppliersRequestObject) (api.ListSuppliersResponseObject, error) {
	p := req.Params
	archived := p.IncludeArchived != nil && *p.IncludeArchived
	page, err := paging.List(h.d.Cursors, "suppliers/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *paging.IDPosition, limit int32) ([]db.Supplier, error) {
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Supplier, error) {
				return q.SupplierList(ctx, db.SupplierListParams{BrandID: req.BrandId, IncludeArchived: archived, AfterID: after.After(), RowLimit: limit})
			})
		},
		func(s db.Supplier) paging.IDPosition { return paging.IDPosition{ID: s.ID} },
		paging.Infallible(apiSupplier))
	if err != nil {
		return nil, err
	}
	return api.ListSuppliers200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// UpdateSupplier changes a supplier's fields, honouring If-Match.
func (h *Handlers) UpdateSupplier(ctx context.Context, req api.UpdateSupplierRequestObject) (api.UpdateSupplierResponseObject, error) {
	b := req.Body
	params := db.SupplierUpdateParams{
		BrandID: req.BrandId, ID: req.SupplierId, Code: b.Code, Name: b.Name, Currency: b.Currency,
		ExpectedVersions: respond.IfMatch(req.Params.IfMatch), Now: h.d.Now(),
	}
	if b.Email.IsSpecified() {
		if b.Email.IsNull() {
			params.ClearEmail = true
		} else {
			e := string(b.Email.MustGet())
			params.Email = &e
		}
	}
	if b.LeadTimeDays.IsSpecified() {
		if b.LeadTimeDays.IsNull() {
			params.ClearLeadTime = true
		} else {
			d := b.LeadTimeDays.MustGet()
			params.LeadTimeDays = &d
		}
	}
	s, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Supplier, error) {
		s, err := q.SupplierUpdate(ctx, params)
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return s, kit.Stale(q.SupplierGet(ctx, db.SupplierGetParams{BrandID: req.BrandId, ID: req.SupplierId}))
		}
		return s, err
	})
	if kit.IsConflict(err, "suppliers_code_key") {
		return nil, supplierCodeTaken(*b.Code)
	}
	if err != nil {
		return nil, respond.Unmet(err, "No such supplier.", "supplier")
	}
	return api.UpdateSupplier200JSONResponse{Body: apiSupplier(s), Headers: api.UpdateSupplier200ResponseHeaders{ETag: respond.ETag(s.Version)}}, nil
}

// DeleteSupplier deletes a supplier no purchase order names, and archives one that is named (its
// orders keep naming it; it takes no new one).
func (h *Handlers) DeleteSupplier(ctx context.Context, req api.DeleteSupplierRequestObject) (api.DeleteSupplierResponseObject, error) {
	versions := respond.IfMatch(req.Params.IfMatch)
	type outcome struct {
		archived *db.Supplier
	}
	out, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (outcome, error) {
		_, err := q.SupplierDelete(ctx, db.SupplierDeleteParams{BrandID: req.BrandId, ID: req.SupplierId, ExpectedVersions: versions})
		if err == nil {
			return outcome{}, nil
		}
		if !errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return outcome{}, err
		}
		// Missing, stale, or named by a purchase order: archive it (at the expected version).
		s, err := q.SupplierArchive(ctx, db.SupplierArchiveParams{BrandID: req.BrandId, ID: req.SupplierId, ExpectedVersions: versions, Now: h.d.Now()})
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return outcome{}, kit.Stale(q.SupplierGet(ctx, db.SupplierGetParams{BrandID: req.BrandId, ID: req.SupplierId}))
		}
		return outcome{archived: &s}, err
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such supplier.", "supplier")
	}
	if out.archived != nil {
		s := *out.archived
		return api.DeleteSupplier200JSONResponse{Body: apiSupplier(s), Headers: api.DeleteSupplier200ResponseHeaders{ETag: respond.ETag(s.Version)}}, nil
	}
	return api.DeleteSupplier204Response{}, nil
}
