package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// ListBrands pages through every brand (ADMIN), oldest first.
func (h *Handlers) ListBrands(ctx context.Context, req api.ListBrandsRequestObject) (api.ListBrandsResponseObject, error) {
	page, err := paging.ByID(h.d.Cursors, "brands", req.Params.Cursor, req.Params.Limit,
		func(after *uuid.UUID, limit int32) ([]db.Brand, error) {
			return h.d.Queries.BrandList(ctx, db.BrandListParams{AfterID: after, RowLimit: limit})
		},
		func(b db.Brand) uuid.UUID { return b.ID },
		paging.Infallible(apiBrand))
	if err != nil {
		return nil, err
	}
	return api.ListBrands200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// GetBrand answers one brand with its version as ETag.
func (h *Handlers) GetBrand(ctx context.Context, req api.GetBrandRequestObject) (api.GetBrandResponseObject, error) {
	b, err := h.d.Queries.BrandGet(ctx, req.BrandId)
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such brand.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetBrand200JSONResponse{Body: apiBrand(b), Headers: api.GetBrand200ResponseHeaders{ETag: respond.ETag(b.Version)}}, nil
}

// UpdateBrand renames a brand or changes its currency, honouring If-Match.
func (h *Handlers) UpdateBrand(ctx context.Context, req api.UpdateBrandRequestObject) (api.UpdateBrandResponseObject, error) {
	body := req.Body // the currency is the spec's enum, checked by request validation
	updated, err := kit.InTxV(ctx, h.d, func(q *db.Queries) (db.Brand, error) {
		b, err := q.BrandUpdate(ctx, db.BrandUpdateParams{
			ID:               req.BrandId,
			Name:             body.Name,
			Currency:         body.Currency,
			ExpectedVersions: respond.IfMatch(req.Params.IfMatch),
			Now:              h.d.Now(),
		})
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return b, kit.Stale(q.BrandGet(ctx, req.BrandId))
		}
		return b, err
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such brand.", "brand")
	}
	return api.UpdateBrand200JSONResponse{Body: apiBrand(updated), Headers: api.UpdateBrand200ResponseHeaders{ETag: respond.ETag(updated.Version)}}, nil
}

// ListMembers pages through a brand's members, oldest first.
func (h *Handlers) ListMembers(ctx context.Context, req api.ListMembersRequestObject) (api.ListMembersResponseObject, error) {
	page, err := paging.ByID(h.d.Cursors, "members/"+req.BrandId.String(), req.Params.Cursor, req.Params.Limit,
		func(after *uuid.UUID, limit int32) ([]db.User, error) {
			return h.d.Queries.MemberList(ctx, db.MemberListParams{BrandID: &req.BrandId, AfterID: after, RowLimit: limit})
		},
		func(u db.User) uuid.UUID { return u.ID },
		paging.Infallible(apiUser))
	if err != nil {
		return nil, err
	}
	return api.ListMembers200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// UpdateMember changes a member's role; the member's tokens die (the role is in them).
func (h *Handlers) UpdateMember(ctx context.Context, req api.UpdateMemberRequestObject) (api.UpdateMemberResponseObject, error) {
	role := db.UserRole(req.Body.Role)
	updated, err := kit.InTxV(ctx, h.d, func(q *db.Queries) (db.User, error) {
		target, err := q.MemberGet(ctx, db.MemberGetParams{ID: req.UserId, BrandID: &req.BrandId})
		if err != nil {
			return db.User{}, kit.DBError(err)
		}
		return h.changeAccess(ctx, q, target, &role, nil)
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such member.")
	case errors.Is(err, errLastOwner):
		return nil, problem.Refuse(api.ProblemCodeLastOwner, lastOwnerDetail)
	case err != nil:
		return nil, err
	}
	return api.UpdateMember200JSONResponse(apiUser(updated)), nil
}

// RemoveMember disables a member, takes them out of the member list and revokes their sessions.
func (h *Handlers) RemoveMember(ctx context.Context, req api.RemoveMemberRequestObject) (api.RemoveMemberResponseObject, error) {
	c := kit.CallerFrom(ctx)
	err := h.d.InTx(ctx, func(q *db.Queries) error {
		target, err := q.MemberGet(ctx, db.MemberGetParams{ID: req.UserId, BrandID: &req.BrandId})
		if err != nil {
			return kit.DBError(err)
		}
		disabled := true
		if err := h.keepAnOwner(ctx, q, target, nil, &disabled); err != nil {
			return err
		}
		removed, err := q.UserRemove(ctx, db.UserRemoveParams{ID: target.ID, Now: h.d.Now()})
		if err != nil {
			return err
		}
		if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: target.ID, Keep: uuid.Nil, Now: h.d.Now(), Reason: string(api.AuditEventTypeMemberRemoved)}); err != nil {
			return err
		}
		if err := kit.Audit(ctx, h.d, q, api.AuditEventTypeMemberRemoved, &target.ID, &c.SessionID); err != nil {
			return err
		}
		return emitMember(ctx, q, h.d.Now(), api.EventTypeMemberRemoved, removed)
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such member.")
	case errors.Is(err, errLastOwner):
		return nil, problem.Refuse(api.ProblemCodeLastOwner, lastOwnerDetail)
	case err != nil:
		return nil, err
	}
	return api.RemoveMember204Response{}, nil
}

func apiBrand(b db.Brand) api.Brand {
	return api.Brand{
		Id:        b.ID,
		Name:      b.Name,
		Slug:      b.Slug,
		Currency:  b.Currency,
		Version:   b.Version,
		CreatedAt: b.CreatedAt.UTC(),
		UpdatedAt: b.UpdatedAt.UTC(),
	}
}

// emitMember writes the event of typ about member u (of a brand) in q's transaction, which is not
// brand-scoped (users are global), so it enters u's brand's scope first: call it last.
func emitMember(ctx context.Context, q *db.Queries, now time.Time, typ api.EventType, u db.User) error {
	if u.BrandID == nil {
		return nil // an ADMIN belongs to no brand
	}
	if err := events.Scope(ctx, q, *u.BrandID); err != nil {
		return err
	}
	// token_version goes up with every change of a member's access (role, disabled, removal), so
	// it orders a member's events.
	return events.Emit(ctx, q, *u.BrandID, now, events.Event{
		Type:      typ,
		Aggregate: events.Aggregate{Type: api.EventAggregateTypeMember, ID: u.ID, Version: int64(u.TokenVersion)},
		Data:      apiUser(u),
	})
}
