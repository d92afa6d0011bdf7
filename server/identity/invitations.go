package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/password"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// InvitationTTL is how long an invitation can be accepted.
const InvitationTTL = 72 * time.Hour

// An invite token is base64url(brand id || invitation id || 32 random bytes). The ids let the
// accepting request find the invitation inside its brand's row-level-security scope without a
// cross-tenant lookup; the random part is the secret, stored only as a hash.
const inviteSecretBytes = 32

func newInviteToken(brandID, id uuid.UUID) (string, error) {
	raw := make([]byte, 32+inviteSecretBytes)
	copy(raw, brandID[:])
	copy(raw[16:], id[:])
	if _, err := rand.Read(raw[32:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

func parseInviteToken(tok string) (brandID, id uuid.UUID, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32+inviteSecretBytes {
		return uuid.Nil, uuid.Nil, false
	}
	copy(brandID[:], raw[:16])
	copy(id[:], raw[16:32])
	return brandID, id, true
}

func invitationStatus(inv db.Invitation, now time.Time) api.InvitationStatus {
	switch {
	case inv.AcceptedAt != nil:
		return api.Accepted
	case inv.RevokedAt != nil:
		return api.Revoked
	case !now.Before(inv.ExpiresAt):
		return api.Expired
	default:
		return api.Pending
	}
}

func apiInvitation(inv db.Invitation, now time.Time) api.Invitation {
	return api.Invitation{
		Id:        inv.ID,
		BrandId:   inv.BrandID,
		Email:     openapi_types.Email(inv.Email),
		Role:      api.InvitationRole(inv.Role),
		Status:    invitationStatus(inv, now),
		ExpiresAt: inv.ExpiresAt.UTC(),
		CreatedAt: inv.CreatedAt.UTC(),
	}
}

// CreateInvitation invites an email to the brand and answers the one-time token.
func (h *Handlers) CreateInvitation(ctx context.Context, req api.CreateInvitationRequestObject) (api.CreateInvitationResponseObject, error) {
	c := kit.CallerFrom(ctx)
	// Whether the email has an account is not checked: the answer would tell any brand owner
	// which addresses have accounts anywhere on the platform. The invitee learns it on accepting.
	email := strings.ToLower(string(req.Body.Email))
	id := uuid.Must(uuid.NewV7())
	tok, err := newInviteToken(req.BrandId, id)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	inv, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Invitation, error) {
		if err := q.InvitationRevokePending(ctx, db.InvitationRevokePendingParams{BrandID: req.BrandId, Email: email, Now: now}); err != nil {
			return db.Invitation{}, err
		}
		inv, err := q.InvitationCreate(ctx, db.InvitationCreateParams{
			BrandID:   req.BrandId,
			ID:        id,
			Email:     email,
			Role:      db.UserRole(req.Body.Role),
			TokenHash: hashToken(tok),
			InvitedBy: &c.User.ID,
			ExpiresAt: now.Add(InvitationTTL),
			Now:       now,
		})
		if err != nil {
			return inv, err
		}
		return inv, kit.Audit(ctx, h.d, q, api.AuditEventTypeInvitationCreated, &c.User.ID, &c.SessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.CreateInvitation201JSONResponse{
		Body:    api.CreatedInvitation{Invitation: apiInvitation(inv, now), InviteToken: tok},
		Headers: api.CreateInvitation201ResponseHeaders{Location: respond.Location("/brands/", req.BrandId.String(), "/invitations/", id.String())},
	}, nil
}

// ListInvitations pages through a brand's invitations, newest first.
func (h *Handlers) ListInvitations(ctx context.Context, req api.ListInvitationsRequestObject) (api.ListInvitationsResponseObject, error) {
	p := req.Params
	var status *string
	if p.Status != nil {
		st := string(*p.Status)
		status = &st
	}
	now := h.d.Now()
	page, err := paging.ByID(h.d.Cursors, "invitations/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(before *uuid.UUID, limit int32) ([]db.Invitation, error) {
			return kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Invitation, error) {
				return q.InvitationList(ctx, db.InvitationListParams{BrandID: req.BrandId, BeforeID: before, Status: status, Now: now, RowLimit: limit})
			})
		},
		func(inv db.Invitation) uuid.UUID { return inv.ID },
		paging.Infallible(func(inv db.Invitation) api.Invitation { return apiInvitation(inv, now) }))
	if err != nil {
		return nil, err
	}
	return api.ListInvitations200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// GetInvitation answers one invitation of the brand.
func (h *Handlers) GetInvitation(ctx context.Context, req api.GetInvitationRequestObject) (api.GetInvitationResponseObject, error) {
	inv, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Invitation, error) {
		inv, err := q.InvitationGet(ctx, db.InvitationGetParams{BrandID: req.BrandId, ID: req.InvitationId})
		return inv, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such invitation.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetInvitation200JSONResponse(apiInvitation(inv, h.d.Now())), nil
}

var errInvitationAccepted = errors.New("invitation accepted")

// RevokeInvitation makes a pending invitation unusable; revoked and expired ones stay as they are.
func (h *Handlers) RevokeInvitation(ctx context.Context, req api.RevokeInvitationRequestObject) (api.RevokeInvitationResponseObject, error) {
	c := kit.CallerFrom(ctx)
	now := h.d.Now()
	// Nothing to return: the transaction's outcome is all the answer needs.
	_, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (struct{}, error) {
		inv, err := q.InvitationGetForUpdate(ctx, db.InvitationGetForUpdateParams{BrandID: req.BrandId, ID: req.InvitationId})
		if err != nil {
			return struct{}{}, kit.DBError(err)
		}
		switch invitationStatus(inv, now) {
		case api.Accepted:
			return struct{}{}, errInvitationAccepted
		case api.Pending:
			if err := q.InvitationRevoke(ctx, db.InvitationRevokeParams{BrandID: req.BrandId, ID: inv.ID, Now: now}); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, kit.Audit(ctx, h.d, q, api.AuditEventTypeInvitationRevoked, &c.User.ID, &c.SessionID)
		}
		return struct{}{}, nil
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such invitation.")
	case errors.Is(err, errInvitationAccepted):
		return nil, problem.Refuse(api.ProblemCodeInvitationAccepted,
			"This invitation was accepted; remove the member instead.")
	case err != nil:
		return nil, err
	}
	return api.RevokeInvitation204Response{}, nil
}

var (
	errInvalidInvite = errors.New("invalid invite")
	errInviteGone    = errors.New("invite gone")
)

// checkInvite finds the invitation a token names (inside its brand's scope) and says whether it
// can be accepted now.
func (h *Handlers) checkInvite(ctx context.Context, q *db.Queries, tok string, lock bool) (db.Invitation, error) {
	brandID, id, ok := parseInviteToken(tok)
	if !ok {
		return db.Invitation{}, errInvalidInvite
	}
	if err := q.BrandScopeSet(ctx, brandID.String()); err != nil {
		return db.Invitation{}, err
	}
	get := q.InvitationGet
	if lock {
		get = func(ctx context.Context, arg db.InvitationGetParams) (db.Invitation, error) {
			return q.InvitationGetForUpdate(ctx, db.InvitationGetForUpdateParams(arg))
		}
	}
	inv, err := get(ctx, db.InvitationGetParams{BrandID: brandID, ID: id})
	if errors.Is(kit.DBError(err), kit.ErrNotFound) || (err == nil && !tokenMatches(tok, inv.TokenHash)) {
		return db.Invitation{}, errInvalidInvite
	}
	if err != nil {
		return db.Invitation{}, err
	}
	if invitationStatus(inv, h.d.Now()) != api.Pending {
		return db.Invitation{}, errInviteGone
	}
	return inv, nil
}

// AcceptInvite creates the invited account in the inviting brand and opens its first session.
func (h *Handlers) AcceptInvite(ctx context.Context, req api.AcceptInviteRequestObject) (api.AcceptInviteResponseObject, error) {
	body := req.Body
	if err := password.Check(body.Password); err != nil {
		return nil, problem.RefuseField("password", err.Error())
	}
	// A first, unlocked look before paying for bcrypt: a bad token costs the server nothing.
	err := h.d.InTx(ctx, func(q *db.Queries) error {
		_, err := h.checkInvite(ctx, q, body.InviteToken, false)
		return err
	})
	var hash string
	if err == nil {
		hash, err = h.hasher.Hash(ctx, body.Password)
	}
	var auth api.AuthResponse
	if err == nil {
		err = h.d.InTx(ctx, func(q *db.Queries) error {
			inv, err := h.checkInvite(ctx, q, body.InviteToken, true)
			if err != nil {
				return err
			}
			user, err := q.UserCreate(ctx, db.UserCreateParams{
				ID:           uuid.Must(uuid.NewV7()),
				Email:        inv.Email,
				Name:         body.Name,
				PasswordHash: hash,
				Role:         inv.Role,
				BrandID:      &inv.BrandID,
				Now:          h.d.Now(),
			})
			if err != nil {
				return err
			}
			if err := q.InvitationAccept(ctx, db.InvitationAcceptParams{BrandID: inv.BrandID, ID: inv.ID, UserID: user.ID, Now: h.d.Now()}); err != nil {
				return err
			}
			auth, err = h.openSession(ctx, q, user, api.AuditEventTypeInvitationAccepted)
			if err != nil {
				return err
			}
			return emitMember(ctx, q, h.d.Now(), api.EventTypeMemberAdded, user)
		})
	}
	switch {
	case errors.Is(err, errInvalidInvite):
		return nil, problem.Refuse(api.ProblemCodeInvalidInvite, "This invitation token is not valid.")
	case errors.Is(err, errInviteGone):
		return nil, problem.Refuse(api.ProblemCodeInviteGone, "This invitation was used, revoked or has expired.")
	case kit.IsConflict(err, "users_email_key"):
		return nil, problem.Refuse(api.ProblemCodeEmailTaken, "An account with this email exists.")
	case err != nil:
		return nil, err
	}
	return api.AcceptInvite201JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
}
