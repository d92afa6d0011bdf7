package server

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// ListBrands pages through every brand (ADMIN), oldest first.
func (s *Server) ListBrands(ctx context.Context, req api.ListBrandsRequestObject) (api.ListBrandsResponseObject, error) {
	after, err := s.cursors.resumeID("brands", req.Params.Cursor)
	if err != nil {
		return api.ListBrands400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badCursor(ctx)}, nil
	}
	limit := pageSize(req.Params.Limit)
	rows, err := s.queries.BrandList(ctx, db.BrandListParams{AfterID: after, RowLimit: limit + 1})
	if err != nil {
		return nil, err
	}
	rows, next, err := page(s.cursors, "brands", rows, limit, func(b db.Brand) any { return lastID(b.ID) })
	if err != nil {
		return nil, err
	}
	out := api.BrandList{Items: make([]api.Brand, 0, len(rows)), NextCursor: next}
	for _, b := range rows {
		out.Items = append(out.Items, apiBrand(b))
	}
	return api.ListBrands200JSONResponse(out), nil
}

// GetBrand answers one brand with its version as ETag.
func (s *Server) GetBrand(ctx context.Context, req api.GetBrandRequestObject) (api.GetBrandResponseObject, error) {
	b, err := s.queries.BrandGet(ctx, req.BrandId)
	if errors.Is(dbError(err), errNotFound) {
		return api.GetBrand404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such brand.")}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.GetBrand200JSONResponse{Body: apiBrand(b), Headers: api.GetBrand200ResponseHeaders{ETag: etag(b.Version)}}, nil
}

// UpdateBrand renames a brand or changes its currency, honouring If-Match.
func (s *Server) UpdateBrand(ctx context.Context, req api.UpdateBrandRequestObject) (api.UpdateBrandResponseObject, error) {
	body := req.Body // the currency is the spec's enum, checked by request validation
	var updated db.Brand
	err := s.inTx(ctx, func(q *db.Queries) error {
		var err error
		updated, err = q.BrandUpdate(ctx, db.BrandUpdateParams{
			ID:               req.BrandId,
			Name:             body.Name,
			Currency:         body.Currency,
			ExpectedVersions: ifMatch(req.Params.IfMatch),
			Now:              s.now(),
		})
		if errors.Is(dbError(err), errNotFound) {
			return stale(q.BrandGet(ctx, req.BrandId))
		}
		return err
	})
	switch {
	case errors.Is(err, errNotFound):
		return api.UpdateBrand404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such brand.")}, nil
	case errors.Is(err, errStale):
		return api.UpdateBrand412ApplicationProblemPlusJSONResponse{PreconditionFailedApplicationProblemPlusJSONResponse: preconditionFailed(ctx, "brand")}, nil
	case err != nil:
		return nil, err
	}
	return api.UpdateBrand200JSONResponse{Body: apiBrand(updated), Headers: api.UpdateBrand200ResponseHeaders{ETag: etag(updated.Version)}}, nil
}

// errStale says a conditional change found the resource at another version.
var errStale = errors.New("stale version")

// stale explains why a conditional change touched no row: the resource exists (the version was
// stale) or it does not.
func stale[T any](_ T, err error) error {
	if err != nil {
		return dbError(err)
	}
	return errStale
}

// ListMembers pages through a brand's members, oldest first.
func (s *Server) ListMembers(ctx context.Context, req api.ListMembersRequestObject) (api.ListMembersResponseObject, error) {
	list := "members/" + req.BrandId.String()
	after, err := s.cursors.resumeID(list, req.Params.Cursor)
	if err != nil {
		return api.ListMembers400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badCursor(ctx)}, nil
	}
	limit := pageSize(req.Params.Limit)
	rows, err := s.queries.MemberList(ctx, db.MemberListParams{BrandID: &req.BrandId, AfterID: after, RowLimit: limit + 1})
	if err != nil {
		return nil, err
	}
	rows, next, err := page(s.cursors, list, rows, limit, func(u db.User) any { return lastID(u.ID) })
	if err != nil {
		return nil, err
	}
	out := api.UserList{Items: make([]api.User, 0, len(rows)), NextCursor: next}
	for _, u := range rows {
		out.Items = append(out.Items, apiUser(u))
	}
	return api.ListMembers200JSONResponse(out), nil
}

// UpdateMember changes a member's role; the member's tokens die (the role is in them).
func (s *Server) UpdateMember(ctx context.Context, req api.UpdateMemberRequestObject) (api.UpdateMemberResponseObject, error) {
	role := db.UserRole(req.Body.Role)
	var updated db.User
	err := s.inTx(ctx, func(q *db.Queries) error {
		target, err := q.MemberGet(ctx, db.MemberGetParams{ID: req.UserId, BrandID: &req.BrandId})
		if err != nil {
			return dbError(err)
		}
		updated, err = s.changeAccess(ctx, q, target, &role, nil)
		return err
	})
	switch {
	case errors.Is(err, errNotFound):
		return api.UpdateMember404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such member.")}, nil
	case errors.Is(err, errLastOwner):
		return api.UpdateMember409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: conflict(ctx, api.ProblemCodeLastOwner, lastOwnerDetail)}, nil
	case err != nil:
		return nil, err
	}
	return api.UpdateMember200JSONResponse(apiUser(updated)), nil
}

// RemoveMember disables a member, takes them out of the member list and revokes their sessions.
func (s *Server) RemoveMember(ctx context.Context, req api.RemoveMemberRequestObject) (api.RemoveMemberResponseObject, error) {
	c := callerFrom(ctx)
	err := s.inTx(ctx, func(q *db.Queries) error {
		target, err := q.MemberGet(ctx, db.MemberGetParams{ID: req.UserId, BrandID: &req.BrandId})
		if err != nil {
			return dbError(err)
		}
		disabled := true
		if err := s.keepAnOwner(ctx, q, target, nil, &disabled); err != nil {
			return err
		}
		if _, err := q.UserRemove(ctx, db.UserRemoveParams{ID: target.ID, Now: s.now()}); err != nil {
			return err
		}
		if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: target.ID, Keep: uuid.Nil, Now: s.now(), Reason: string(api.AuditEventTypeMemberRemoved)}); err != nil {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypeMemberRemoved, &target.ID, &c.sessionID)
	})
	switch {
	case errors.Is(err, errNotFound):
		return api.RemoveMember404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such member.")}, nil
	case errors.Is(err, errLastOwner):
		return api.RemoveMember409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: conflict(ctx, api.ProblemCodeLastOwner, lastOwnerDetail)}, nil
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
