package server

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// AdminListUsers pages through every user, oldest first.
func (s *Server) AdminListUsers(ctx context.Context, req api.AdminListUsersRequestObject) (api.AdminListUsersResponseObject, error) {
	after, err := s.cursors.resumeID("users", req.Params.Cursor)
	if err != nil {
		return api.AdminListUsers400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badCursor(ctx)}, nil
	}
	limit := pageSize(req.Params.Limit)
	rows, err := s.queries.UserList(ctx, db.UserListParams{AfterID: after, RowLimit: limit + 1})
	if err != nil {
		return nil, err
	}
	rows, next, err := page(s.cursors, "users", rows, limit, func(u db.User) any { return lastID(u.ID) })
	if err != nil {
		return nil, err
	}
	out := api.UserList{Items: make([]api.User, 0, len(rows)), NextCursor: next}
	for _, u := range rows {
		out.Items = append(out.Items, apiUser(u))
	}
	return api.AdminListUsers200JSONResponse(out), nil
}

// errLastOwner refuses a change that would leave a brand without an enabled owner.
var errLastOwner = errors.New("last owner")

// AdminUpdateUser changes a user's role or disabled flag; either revokes all of the user's tokens.
func (s *Server) AdminUpdateUser(ctx context.Context, req api.AdminUpdateUserRequestObject) (api.AdminUpdateUserResponseObject, error) {
	body := req.Body
	var updated db.User
	err := s.inTx(ctx, func(q *db.Queries) error {
		target, err := q.UserGet(ctx, req.UserId)
		if err != nil {
			return dbError(err)
		}
		if target.Role == db.UserRoleADMIN && body.Role != nil {
			return errAdminRole
		}
		if err := s.keepAnAdmin(ctx, q, target, body.Disabled); err != nil {
			return err
		}
		updated, err = s.changeAccess(ctx, q, target, (*db.UserRole)(body.Role), body.Disabled)
		return err
	})
	switch {
	case errors.Is(err, errNotFound):
		return api.AdminUpdateUser404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	case errors.Is(err, errAdminRole):
		return api.AdminUpdateUser422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: unprocessable(ctx, api.ProblemCodeInvalidRoleChange,
			"An ADMIN's role cannot be changed through the API.")}, nil
	case errors.Is(err, errLastAdmin):
		return api.AdminUpdateUser409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: conflict(ctx, api.ProblemCodeLastAdmin,
			"An ADMIN cannot disable itself, nor the last enabled ADMIN: nobody could administer the platform any more.")}, nil
	case errors.Is(err, errLastOwner):
		return api.AdminUpdateUser409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: conflict(ctx, api.ProblemCodeLastOwner, lastOwnerDetail)}, nil
	case err != nil:
		return nil, err
	}
	return api.AdminUpdateUser200JSONResponse(apiUser(updated)), nil
}

const lastOwnerDetail = "This would leave the brand without an enabled BRAND_OWNER."

// changeAccess sets a user's role and/or disabled flag, keeping the brand's last enabled owner,
// and revokes every token of the user: they carry the role, and a disabled user has none.
func (s *Server) changeAccess(ctx context.Context, q *db.Queries, target db.User, role *db.UserRole, disabled *bool) (db.User, error) {
	if err := s.keepAnOwner(ctx, q, target, role, disabled); err != nil {
		return db.User{}, err
	}
	updated, err := q.UserUpdateAccess(ctx, db.UserUpdateAccessParams{
		ID:       target.ID,
		Role:     db.NullUserRole{UserRole: derefRole(role), Valid: role != nil},
		Disabled: disabled,
		Now:      s.now(),
	})
	if err != nil {
		return db.User{}, err
	}
	if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: target.ID, Keep: uuid.Nil, Now: s.now(), Reason: string(api.AuditEventTypeUserUpdated)}); err != nil {
		return db.User{}, err
	}
	c := callerFrom(ctx)
	return updated, s.audit(ctx, q, api.AuditEventTypeUserUpdated, &target.ID, &c.sessionID)
}

var errAdminRole = errors.New("admin role is not changed through the API")

// errLastAdmin refuses disabling the caller's own ADMIN account or the last enabled ADMIN.
var errLastAdmin = errors.New("last admin")

// keepAnAdmin refuses (errLastAdmin) disabling an enabled ADMIN when that is the caller itself
// (an ADMIN locking itself out) or when no other enabled ADMIN would remain. Only an ADMIN calls
// this operation, so the second case is two ADMINs disabling each other at once: the enabled
// ADMINs are locked first, in id order, so those requests serialize and the second one sees the
// first's change.
func (s *Server) keepAnAdmin(ctx context.Context, q *db.Queries, target db.User, disabled *bool) error {
	if target.Role != db.UserRoleADMIN || disabled == nil || !*disabled {
		return nil
	}
	if target.ID == callerFrom(ctx).user.ID {
		return errLastAdmin
	}
	admins, err := q.UserLockEnabledAdmins(ctx)
	if err != nil {
		return err
	}
	others, targetEnabled := 0, false
	for _, id := range admins {
		if id == target.ID {
			targetEnabled = true
		} else {
			others++
		}
	}
	if targetEnabled && others == 0 {
		return errLastAdmin
	}
	return nil
}

// keepAnOwner refuses (errLastOwner) a change that takes an enabled owner away from a brand that
// has no other. The brand's owners are locked first, in id order, so concurrent changes to two
// owners of one brand serialize instead of both succeeding (or deadlocking).
func (s *Server) keepAnOwner(ctx context.Context, q *db.Queries, target db.User, role *db.UserRole, disabled *bool) error {
	losesOwner := target.Role == db.UserRoleBRANDOWNER && !target.Disabled &&
		((role != nil && *role != db.UserRoleBRANDOWNER) || (disabled != nil && *disabled))
	if !losesOwner || target.BrandID == nil {
		return nil
	}
	owners, err := q.UserLockBrandOwners(ctx, target.BrandID)
	if err != nil {
		return err
	}
	for _, id := range owners {
		if id != target.ID {
			return nil
		}
	}
	return errLastOwner
}

func derefRole(r *db.UserRole) db.UserRole {
	if r == nil {
		return ""
	}
	return *r
}

// AdminListAuditEvents pages through security events, newest first.
func (s *Server) AdminListAuditEvents(ctx context.Context, req api.AdminListAuditEventsRequestObject) (api.AdminListAuditEventsResponseObject, error) {
	p := req.Params
	before, err := s.cursors.resumeID("audit-events", p.Cursor)
	if err != nil {
		return api.AdminListAuditEvents400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badCursor(ctx)}, nil
	}
	var typ *string
	if p.Type != nil {
		t := string(*p.Type)
		typ = &t
	}
	limit := pageSize(p.Limit)
	rows, err := s.queries.AuditEventList(ctx, db.AuditEventListParams{BeforeID: before, UserID: p.UserId, Type: typ, RowLimit: limit + 1})
	if err != nil {
		return nil, err
	}
	rows, next, err := page(s.cursors, "audit-events", rows, limit, func(e db.AuditEvent) any { return lastID(e.ID) })
	if err != nil {
		return nil, err
	}
	out := api.AuditEventList{Items: make([]api.AuditEvent, 0, len(rows)), NextCursor: next}
	for _, e := range rows {
		out.Items = append(out.Items, apiAuditEvent(e))
	}
	return api.AdminListAuditEvents200JSONResponse(out), nil
}
