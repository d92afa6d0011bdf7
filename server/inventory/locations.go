package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

func apiLocation(l db.Location) (api.StockLocation, error) {
	out := api.StockLocation{
		Id: l.ID, BrandId: l.BrandID, Code: l.Code, Name: l.Name, Active: l.Active,
		Version: l.Version, CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC(),
	}
	if l.Address != nil {
		out.Address = &api.Address{}
		if err := json.Unmarshal(l.Address, out.Address); err != nil {
			return api.StockLocation{}, fmt.Errorf("location %s address: %w", l.ID, err)
		}
	}
	return out, nil
}

func addressJSON(a *api.Address) ([]byte, error) {
	if a == nil {
		return nil, nil
	}
	return json.Marshal(a)
}

func codeTaken(code string) error {
	return problem.Refuse(api.ProblemCodeLocationCodeTaken, fmt.Sprintf("Another location of this brand has code %q.", code))
}

// CreateLocation adds a stock location to the brand.
func (h *Handlers) CreateLocation(ctx context.Context, req api.CreateLocationRequestObject) (api.CreateLocationResponseObject, error) {
	body := req.Body
	addr, err := addressJSON(body.Address)
	if err != nil {
		return nil, err
	}
	active := body.Active == nil || *body.Active
	loc, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Location, error) {
		return q.LocationCreate(ctx, db.LocationCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), Code: body.Code, Name: body.Name,
			Address: addr, Active: active, Now: h.d.Now(),
		})
	})
	if kit.IsConflict(err, "locations_code_key") {
		return nil, codeTaken(body.Code)
	}
	if err != nil {
		return nil, err
	}
	out, err := apiLocation(loc)
	if err != nil {
		return nil, err
	}
	return api.CreateLocation201JSONResponse{Body: out, Headers: api.CreateLocation201ResponseHeaders{
		ETag:     respond.ETag(loc.Version),
		Location: respond.Location("/brands/", loc.BrandID.String(), "/locations/", loc.ID.String()),
	}}, nil
}

// GetLocation answers one location with its version as ETag.
func (h *Handlers) GetLocation(ctx context.Context, req api.GetLocationRequestObject) (api.GetLocationResponseObject, error) {
	loc, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Location, error) {
		l, err := q.LocationGet(ctx, db.LocationGetParams{BrandID: req.BrandId, ID: req.LocationId})
		return l, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such location.")
	}
	if err != nil {
		return nil, err
	}
	out, err := apiLocation(loc)
	if err != nil {
		return nil, err
	}
	return api.GetLocation200JSONResponse{Body: out, Headers: api.GetLocation200ResponseHeaders{ETag: respond.ETag(loc.Version)}}, nil
}

// errLocationInUse refuses to deactivate a location that holds stock or live holds.
var errLocationInUse = errors.New("location in use")

// UpdateLocation changes a location's fields, honouring If-Match. Deactivating locks the location
// first: stock writers hold it FOR SHARE, so no stock can arrive between the check and the change.
func (h *Handlers) UpdateLocation(ctx context.Context, req api.UpdateLocationRequestObject) (api.UpdateLocationResponseObject, error) {
	body := req.Body
	params := db.LocationUpdateParams{
		BrandID: req.BrandId, ID: req.LocationId, Code: body.Code, Name: body.Name, Active: body.Active,
		ExpectedVersions: respond.IfMatch(req.Params.IfMatch), Now: h.d.Now(),
	}
	if body.Address.IsSpecified() {
		if body.Address.IsNull() {
			params.ClearAddress = true
		} else {
			a := body.Address.MustGet()
			addr, err := addressJSON(&a)
			if err != nil {
				return nil, err
			}
			params.Address = addr
		}
	}
	loc, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Location, error) {
		if body.Active != nil && !*body.Active {
			if _, err := q.LocationGetForUpdate(ctx, db.LocationGetForUpdateParams{BrandID: req.BrandId, ID: req.LocationId}); err != nil {
				return db.Location{}, kit.DBError(err)
			}
			inUse, err := q.LocationInUse(ctx, db.LocationInUseParams{BrandID: req.BrandId, LocationID: req.LocationId})
			if err != nil {
				return db.Location{}, err
			}
			if inUse {
				return db.Location{}, errLocationInUse
			}
		}
		l, err := q.LocationUpdate(ctx, params)
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return l, kit.Stale(q.LocationGet(ctx, db.LocationGetParams{BrandID: req.BrandId, ID: req.LocationId}))
		}
		return l, err
	})
	switch {
	case errors.Is(err, errLocationInUse):
		return nil, problem.Refuse(api.ProblemCodeLocationInUse,
			"The location holds stock on hand or live reservations; move or release them first.")
	case kit.IsConflict(err, "locations_code_key"):
		return nil, codeTaken(*body.Code)
	case err != nil:
		return nil, respond.Unmet(err, "No such location.", "location")
	}
	out, err := apiLocation(loc)
	if err != nil {
		return nil, err
	}
	return api.UpdateLocation200JSONResponse{Body: out, Headers: api.UpdateLocation200ResponseHeaders{ETag: respond.ETag(loc.Version)}}, nil
}

// ListLocations pages through the brand's locations, oldest first.
func (h *Handlers) ListLocations(ctx context.Context, req api.ListLocationsRequestObject) (api.ListLocationsResponseObject, error) {
	p := req.Params
	page, err := paging.List(h.d.Cursors, "locations/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *paging.IDPosition, limit int32) ([]db.Location, error) {
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Location, error) {
				return q.LocationList(ctx, db.LocationListParams{BrandID: req.BrandId, Active: p.Active, AfterID: after.After(), RowLimit: limit})
			})
		},
		func(l db.Location) paging.IDPosition { return paging.IDPosition{ID: l.ID} },
		apiLocation)
	if err != nil {
		return nil, err
	}
	return api.ListLocations200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}
