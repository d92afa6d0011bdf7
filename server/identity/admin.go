package identity

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
)

// AdminListUsers pages through every user, oldest first.
func (h *Handlers) AdminListUsers(ctx context.Context, req api.AdminListUsersRequestObject) (api.AdminListUsersResponseObject, error) {
	page, err := paging.ByID(h.d.Cursors, "users", req.Params.Cursor, req.Params.Limit,
		func(after *uuid.UUID, limit int32) ([]db.User, error) {
			return h.d.Queries.UserList(ctx, db.UserListParams{AfterID: after, RowLimit: limit})
		},
		func(u db.User) uuid.UUID { return u.ID },
		paging.Infallible(apiUser))
	if err != nil {
		return nil, err
	}
	return api.AdminListUsers200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// errLastOwner refuses a change that would leave a brand without an enabled owner.
var errLastOwner = errors.New("last owner")

// AdminUpdateUser changes a user's role or disabled flag; either revokes all of the user's tokens.
func (h *Handlers) AdminUpdateUser(ctx context.Context, req api.AdminUpdateUserRequestObject) (api.AdminUpdateUserResponseObject, error) {
	body := req.Body
	updated, err := kit.InTxV(ctx, h.d, func(q *db.Queries) (db.User, error) {
		target, err := q.UserGet(ctx, req.UserId)
		if err != nil {
			return db.User{}, kit.DBError(err)
		}
		if target.Role == db.UserRoleADMIN && body.Role != nil {
			return db.User{}, errAdminRole
		}
		if err := h.keepAnAdmin(ctx, q, target, body.Disabled); err != nil {
			return db.User{}, err
		}
		return h.changeAccess(ctx, q, target, (*db.UserRole)(body.Role), body.Disabled)
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such user.")
	case errors.Is(err, errAdminRole):
		return nil, problem.Refuse(api.ProblemCodeInvalidRoleChange,
			"An ADMIN's role cannot be changed through the API.")
	case errors.Is(err, errLastAdmin):
		return nil, problem.Refuse(api.ProblemCodeLastAdmin,
			"An ADMIN cannot disable itself, nor the last enabled ADMIN: nobody could administer the platform any more.")
	case errors.Is(err, errLastOwner):
		return nil, problem.Refuse(api.ProblemCodeLastOwner, lastOwnerDetail)
	case err != nil:
		return nil, err
	}
	return api.AdminUpdateUser200JSONResponse(apiUser(updated)), nil
}

const lastOwnerDetail = "This would leave the brand without an enabled BRAND_OWNER."

// changeAccess sets a user's role and/or disabled flag, keeping the brand's last enabled owner,
// and revokes every token of the user: they carry the role, and a disabled user has none.
func (h *Handlers) changeAccess(ctx context.Context, q *db.Queries, target db.User, role *db.UserRole, disabled *bool) (db.User, error) {
	if err := h.keepAnOwner(ctx, q, target, role, disabled); err != nil {
		return db.User{}, err
	}
	updated, err := q.UserUpdateAccess(ctx, db.UserUpdateAccessParams{
		ID:       target.ID,
		Role:     db.NullUserRole{UserRole: derefRole(role), Valid: role != nil},
		Disabled: disabled,
		Now:      h.d.Now(),
	})
	if err != nil {
		return db.User{}, err
	}
	if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: target.ID, Keep: uuid.Nil, Now: h.d.Now(), Reason: string(api.AuditEventTypeUserUpdated)}); err != nil {
		return db.User{}, err
	}
	c := kit.CallerFrom(ctx)
	if err := kit.Audit(ctx, h.d, q, api.AuditEventTypeUserUpdated, &target.ID, &c.SessionID); err != nil {
		return db.User{}, err
	}
	return updated, emitMember(ctx, q, h.d.Now(), api.EventTypeMemberUpdated, updated)
}

var errAdminRole = errors.New("admin role is not changed through the API")

// errLastAdmin refuses disabling the caller's own ADMIN account or the last enabled ADMIN.
var errLastAdmin = errors.New("last admin")

// keepAnAdmin refuses (errLastAdmin) disabling an enabled ADMIN when that is the caller itself
// (an ADMIN locking itself out) or when no other enabled ADMIN would remain. Only an ADMIN calls
// this operation, so the second case is two ADMINs disabling each other at once: the enabled
// ADMINs are locked first, in id order, so those requests serialize and the second one sees the
// first's change.
func (h *Handlers) keepAnAdmin(ctx context.Context, q *db.Queries, target db.User, disabled *bool) error {
	if target.Role != db.UserRoleADMIN || disabled == nil || !*disabled {
		return nil
	}
	if target.ID == kit.CallerFrom(ctx).User.ID {
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
func (h *Handlers) keepAnOwner(ctx context.Context, q *db.Queries, target db.User, role *db.UserRole, disabled *bool) error {
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
func (h *Handlers) AdminListAuditEvents(ctx context.Context, req api.AdminListAuditEventsRequestObject) (api.AdminListAuditEventsResponseObject, error) {
	p := req.Params
	var typ *string
	if p.Type != nil {
		t := string(*p.Type)
		typ = &t
	}
	page, err := paging.ByID(h.d.Cursors, "audit-events", p.Cursor, p.Limit,
		func(before *uuid.UUID, limit int32) ([]db.AuditEvent, error) {
			return h.d.Queries.AuditEventList(ctx, db.AuditEventListParams{BeforeID: before, UserID: p.UserId, Type: typ, RowLimit: limit})
		},
		func(e db.AuditEvent) uuid.UUID { return e.ID },
		paging.Infallible(apiAuditEvent))
	if err != nil {
		return nil, err
	}
	return api.AdminListAuditEvents200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}
