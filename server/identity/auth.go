package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/password"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/token"
)

// Register creates a brand owner and their brand, and opens their first session.
func (h *Handlers) Register(ctx context.Context, req api.RegisterRequestObject) (api.RegisterResponseObject, error) {
	body := req.Body
	if err := password.Check(body.Password); err != nil {
		return nil, problem.RefuseField("password", err.Error())
	}
	hash, err := h.hasher.Hash(ctx, body.Password)
	if err != nil {
		return nil, err
	}
	brandName := body.Name
	if body.BrandName != nil {
		brandName = *body.BrandName
	}

	var auth api.AuthResponse
	err = h.d.InTx(ctx, func(q *db.Queries) error {
		brand, err := createBrand(ctx, h.d, q, brandName)
		if err != nil {
			return err
		}
		user, err := q.UserCreate(ctx, db.UserCreateParams{
			ID:           uuid.Must(uuid.NewV7()),
			Email:        string(body.Email),
			Name:         body.Name,
			PasswordHash: hash,
			Role:         db.UserRoleBRANDOWNER,
			BrandID:      &brand.ID,
			Now:          h.d.Now(),
		})
		if err != nil {
			return err
		}
		auth, err = h.openSession(ctx, q, user, api.AuditEventTypeRegister)
		return err
	})
	if kit.IsConflict(err, "users_email_key") {
		return nil, problem.Refuse(api.ProblemCodeEmailTaken, "An account with this email exists.")
	}
	if err != nil {
		return nil, err
	}
	return api.Register201JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
}

// createBrand creates a brand with a slug derived from its name, suffixed when the plain one is
// taken.
func createBrand(ctx context.Context, d *kit.Deps, q *db.Queries, name string) (db.Brand, error) {
	base := slugify(name)
	slug := base
	for attempt := 0; attempt < 8; attempt++ {
		brand, err := q.BrandCreate(ctx, db.BrandCreateParams{
			ID:       uuid.Must(uuid.NewV7()),
			Name:     name,
			Slug:     slug,
			Currency: "USD",
			Now:      d.Now(),
		})
		if !errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return brand, err
		}
		suffix := make([]byte, 3)
		_, _ = rand.Read(suffix)
		slug = base + "-" + hex.EncodeToString(suffix)
	}
	return db.Brand{}, errors.New("create brand: no free slug after 8 attempts")
}

// slugify keeps ASCII letters and digits, lowercased, with single dashes between runs.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 40 {
				break
			}
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "brand"
	}
	return b.String()
}

// Login checks the credentials and opens a session.
//
// An unknown email and a known one take the same path: the same throttle (keyed by the email,
// not the account), a bcrypt comparison either way (against a dummy hash for an unknown email),
// the same failure recorded, the same answers.
func (h *Handlers) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	body := req.Body
	email := strings.ToLower(string(body.Email))
	invalid := problem.Refuse(api.ProblemCodeInvalidCredentials, "The email or the password is wrong.")

	user, err := h.d.Queries.UserGetByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return nil, err
	}
	var userID *uuid.UUID
	if known {
		userID = &user.ID
	}
	now := h.d.Now()
	wait, err := h.throttled(ctx, h.d.Queries, email, now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		// Refused before the password is even checked: while throttled, guessing is pointless,
		// and a throttled client costs no bcrypt.
		if err := kit.Audit(ctx, h.d, h.d.Queries, api.AuditEventTypeLoginLocked, userID, nil); err != nil {
			return nil, err
		}
		observe.LoginOutcome(observe.LoginThrottled)
		return nil, &problem.Error{Code: api.ProblemCodeAccountThrottled, Detail: throttledDetail, RetryAfter: wait}
	}

	var ok, rehash bool
	if known {
		ok, rehash, err = h.hasher.Verify(ctx, user.PasswordHash, body.Password)
	} else {
		// Spend what a wrong password costs, so the answer's timing does not say the email is
		// unknown.
		err = h.hasher.VerifyNobody(ctx, body.Password)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		err := h.d.InTx(ctx, func(q *db.Queries) error {
			if err := h.recordLoginFailure(ctx, q, email, now); err != nil {
				return err
			}
			return kit.Audit(ctx, h.d, q, api.AuditEventTypeLoginFailed, userID, nil)
		})
		if err != nil {
			return nil, err
		}
		observe.LoginOutcome(observe.LoginBadCredentials)
		return nil, invalid
	}
	if user.Disabled {
		observe.LoginOutcome(observe.LoginDisabled)
		return nil, problem.Refuse(api.ProblemCodeAccountDisabled, "This account is disabled.")
	}

	var newHash string
	if rehash {
		// The cost changed since this hash was made: now that the password is known, upgrade it.
		if newHash, err = h.hasher.Hash(ctx, body.Password); err != nil {
			return nil, err
		}
	}
	var auth api.AuthResponse
	err = h.d.InTx(ctx, func(q *db.Queries) error {
		if err := h.resetLoginFailures(ctx, q, email); err != nil {
			return err
		}
		if newHash != "" {
			if err := q.UserUpgradeHash(ctx, db.UserUpgradeHashParams{ID: user.ID, PasswordHash: newHash, Now: now}); err != nil {
				return err
			}
		}
		var err error
		auth, err = h.openSession(ctx, q, user, api.AuditEventTypeLoginSucceeded)
		return err
	})
	if err != nil {
		return nil, err
	}
	observe.LoginOutcome(observe.LoginOK)
	return api.Login200JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
}

// openSession starts a session for user inside the caller's transaction, records event, and
// returns the session's first token pair. The user's least recently used sessions beyond
// SessionsMaxPerUser are revoked.
func (h *Handlers) openSession(ctx context.Context, q *db.Queries, user db.User, event api.AuditEventType) (api.AuthResponse, error) {
	now := h.d.Now()
	id := uuid.Must(uuid.NewV7())
	absolute := now.Add(h.auth.SessionMaxAge)
	expires := earliest(now.Add(h.auth.RefreshTTL), absolute)
	_, sign := observe.Start(ctx, "token.sign")
	refresh, err := h.tokens.SignRefresh(token.Refresh{
		UserID: user.ID, SessionID: id, Generation: 1, Version: user.TokenVersion,
		IssuedAt: now, ExpiresAt: expires,
	})
	sign.End()
	if err != nil {
		return api.AuthResponse{}, err
	}
	if err := q.SessionRevokeLeastRecentlyUsed(ctx, db.SessionRevokeLeastRecentlyUsedParams{
		Now: now, UserID: user.ID, KeepLive: int32(h.auth.SessionsMaxPerUser - 1), //nolint:gosec // bounded by configuration
	}); err != nil {
		return api.AuthResponse{}, err
	}
	meta := problem.RequestFrom(ctx)
	if _, err := q.SessionCreate(ctx, db.SessionCreateParams{
		ID:                id,
		UserID:            user.ID,
		RefreshHash:       hashToken(refresh),
		Now:               now,
		ExpiresAt:         expires,
		AbsoluteExpiresAt: absolute,
		UserAgent:         kit.Optional(meta.UserAgent),
		Ip:                kit.Optional(meta.IP),
	}); err != nil {
		return api.AuthResponse{}, err
	}
	// The new session's user proved who it is (password, invitation): it is the actor.
	if err := kit.AuditAs(ctx, h.d, q, event, &user.ID, &user.ID, &id); err != nil {
		return api.AuthResponse{}, err
	}
	return h.authResponse(user, id, refresh)
}

// authResponse pairs a fresh access token with the session's refresh token.
func (h *Handlers) authResponse(user db.User, sessionID uuid.UUID, refresh string) (api.AuthResponse, error) {
	access, _, err := h.tokens.SignAccess(token.Access{
		UserID:    user.ID,
		SessionID: sessionID,
		Role:      string(user.Role),
		BrandID:   user.BrandID,
		Version:   user.TokenVersion,
	})
	if err != nil {
		return api.AuthResponse{}, err
	}
	return api.AuthResponse{
		User:         apiUser(user),
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    api.Bearer,
		ExpiresIn:    int(h.tokens.AccessTTL() / time.Second),
	}, nil
}

// hashToken is how refresh and invitation tokens are stored: they are long random-looking strings,
// so one SHA-256 is enough (no salt or stretching needed, unlike passwords).
func hashToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// refreshOutcome is what the refresh transaction decided.
type refreshOutcome int

const (
	refreshInvalid refreshOutcome = iota
	refreshIssued
	refreshReused
	refreshForged
)

// Refresh rotates a session's refresh token. Everything is decided under the session row's lock
// in one transaction, so concurrent refreshes of one token perform exactly one rotation.
func (h *Handlers) Refresh(ctx context.Context, req api.RefreshRequestObject) (api.RefreshResponseObject, error) {
	invalid := func(detail string) error {
		observe.RefreshOutcome(observe.RefreshInvalid)
		return problem.Refuse(api.ProblemCodeInvalidRefreshToken, detail)
	}
	presented := req.Body.RefreshToken
	claims, err := h.tokens.VerifyRefresh(presented)
	if errors.Is(err, token.ErrExpired) {
		return nil, invalid("The refresh token expired; log in again.")
	}
	if err != nil {
		return nil, invalid("The refresh token is not valid.")
	}

	if auth, ok, err := h.rotateCurrent(ctx, presented, claims); err != nil || ok {
		if err != nil {
			return nil, err
		}
		observe.RefreshOutcome(observe.RefreshRotated)
		return api.Refresh200JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
	}

	// The slow path, for everything but the plain rotation: the session row is locked and the
	// answer decided in one transaction.
	var (
		outcome refreshOutcome
		issued  = observe.RefreshRotated // or RefreshGrace: which 200 it was, for the metric
		reason  string
		auth    api.AuthResponse
	)
	err = h.d.InTx(ctx, func(q *db.Queries) error {
		row, err := q.SessionGetForRefresh(ctx, claims.SessionID)
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			reason = "The session of this refresh token does not exist."
			return nil
		}
		if err != nil {
			return err
		}
		sess, user := row.Session, row.User
		now := h.d.Now()
		switch {
		case sess.UserID != claims.UserID:
			reason = "The refresh token is not valid."
			return nil
		case sess.RevokedAt != nil || !now.Before(sess.ExpiresAt):
			reason = "The session has ended; log in again."
			return nil
		case user.Disabled || user.TokenVersion != claims.Version:
			reason = "The refresh token has been revoked; log in again."
			return nil
		}

		var refresh string
		switch {
		case claims.Generation == sess.Generation && tokenMatches(presented, sess.RefreshHash):
			rotatedAt := now
			expires := earliest(now.Add(h.auth.RefreshTTL), sess.AbsoluteExpiresAt)
			refresh, err = h.tokens.SignRefresh(token.Refresh{
				UserID: user.ID, SessionID: sess.ID, Generation: sess.Generation + 1, Version: user.TokenVersion,
				IssuedAt: rotatedAt, ExpiresAt: expires,
			})
			if err != nil {
				return err
			}
			if _, err := q.SessionRotate(ctx, db.SessionRotateParams{
				ID: sess.ID, Generation: sess.Generation, RefreshHash: hashToken(refresh), Now: rotatedAt, ExpiresAt: expires,
			}); err != nil {
				return err
			}
		case claims.Generation == sess.Generation-1 && tokenMatches(presented, sess.PreviousHash) &&
			h.auth.RefreshReuseGrace > 0 && now.Sub(sess.RotatedAt) <= h.auth.RefreshReuseGrace:
			// A benign race: the client lost the answer to its last refresh, or another tab won.
			// It gets the successor that already exists, re-issued byte for byte; nothing rotates.
			issued = observe.RefreshGrace
			// It may have been signed before a secret rotation: ReissueRefresh tries both keys.
			var matched bool
			refresh, matched, err = h.tokens.ReissueRefresh(token.Refresh{
				UserID: user.ID, SessionID: sess.ID, Generation: sess.Generation, Version: user.TokenVersion,
				IssuedAt: sess.RotatedAt, ExpiresAt: sess.ExpiresAt,
			}, func(tok string) bool { return tokenMatches(tok, sess.RefreshHash) })
			if err != nil {
				return err
			}
			if !matched {
				return errors.New("refresh: the re-issued successor does not match the stored hash")
			}
		case claims.Generation >= sess.Generation:
			// Validly signed, yet not the token issued for this generation (or one for a
			// generation never issued): only someone holding the signing key makes one. End the
			// session rather than trust either token, and leave a trace.
			if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: sess.ID, UserID: user.ID, Now: now, Reason: string(api.AuditEventTypeRefreshForged)}); err != nil {
				return err
			}
			outcome = refreshForged
			return kit.AuditAs(ctx, h.d, q, api.AuditEventTypeRefreshForged, nil, &user.ID, &sess.ID)
		case claims.Generation < sess.Generation:
			// An old token came back: it was stolen or replayed (RFC 9700 §4.14.2). The session
			// cannot tell the thief from its owner, so it ends for both.
			if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: sess.ID, UserID: user.ID, Now: now, Reason: string(api.AuditEventTypeRefreshReuse)}); err != nil {
				return err
			}
			outcome = refreshReused
			return kit.Audit(ctx, h.d, q, api.AuditEventTypeRefreshReuse, &user.ID, &sess.ID)
		}
		auth, err = h.authResponse(user, sess.ID, refresh)
		outcome = refreshIssued
		return err
	})
	if err != nil {
		return nil, err
	}
	switch outcome {
	case refreshIssued:
		observe.RefreshOutcome(issued)
		return api.Refresh200JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
	case refreshReused:
		observe.RefreshOutcome(observe.RefreshReused)
		return nil, problem.Refuse(api.ProblemCodeRefreshTokenReused,
			"This refresh token was already used; the session is revoked. Log in again.")
	case refreshForged:
		return nil, invalid("The refresh token is not valid; the session is revoked. Log in again.")
	default:
		return nil, invalid(reason)
	}
}

// rotateCurrent is the common refresh, in one statement: the presented token is its session's
// current one, so the session moves to the next generation. ok is false when that is not the
// case (grace, reuse, a dead session...), and nothing was written.
func (h *Handlers) rotateCurrent(ctx context.Context, presented string, claims token.Refresh) (api.AuthResponse, bool, error) {
	now := h.d.Now()
	expires := now.Add(h.auth.RefreshTTL) // past the session's absolute limit: no row, slow path
	_, sign := observe.Start(ctx, "token.sign")
	refresh, err := h.tokens.SignRefresh(token.Refresh{
		UserID: claims.UserID, SessionID: claims.SessionID, Generation: claims.Generation + 1, Version: claims.Version,
		IssuedAt: now, ExpiresAt: expires,
	})
	sign.End()
	if err != nil {
		return api.AuthResponse{}, false, err
	}
	row, err := h.d.Queries.SessionRotateCurrent(ctx, db.SessionRotateCurrentParams{
		ID: claims.SessionID, UserID: claims.UserID, Generation: claims.Generation, TokenVersion: claims.Version,
		PresentedHash: hashToken(presented), RefreshHash: hashToken(refresh), Now: now, ExpiresAt: expires,
	})
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		return api.AuthResponse{}, false, nil
	}
	if err != nil {
		return api.AuthResponse{}, false, err
	}
	auth, err := h.authResponse(row.User, claims.SessionID, refresh)
	return auth, err == nil, err
}

// tokenMatches compares a token with a stored hash in constant time.
func tokenMatches(tok string, hash []byte) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hashToken(tok), hash) == 1
}

// Logout revokes the caller's session.
func (h *Handlers) Logout(ctx context.Context, _ api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	c := kit.CallerFrom(ctx)
	err := h.d.InTx(ctx, func(q *db.Queries) error {
		if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: c.SessionID, UserID: c.User.ID, Now: h.d.Now(), Reason: string(api.AuditEventTypeLogout)}); err != nil {
			return err
		}
		return kit.Audit(ctx, h.d, q, api.AuditEventTypeLogout, &c.User.ID, &c.SessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.Logout204Response{}, nil
}

// LogoutAll revokes every session of the caller and every token issued to them.
func (h *Handlers) LogoutAll(ctx context.Context, _ api.LogoutAllRequestObject) (api.LogoutAllResponseObject, error) {
	c := kit.CallerFrom(ctx)
	err := h.d.InTx(ctx, func(q *db.Queries) error {
		if err := h.revokeEverything(ctx, q, c.User.ID, string(api.AuditEventTypeLogoutAll)); err != nil {
			return err
		}
		return kit.Audit(ctx, h.d, q, api.AuditEventTypeLogoutAll, &c.User.ID, &c.SessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.LogoutAll204Response{}, nil
}

// revokeEverything ends every session of the user and invalidates every token issued to them
// (logout-all, a role change, a disabled account).
func (h *Handlers) revokeEverything(ctx context.Context, q *db.Queries, userID uuid.UUID, reason string) error {
	now := h.d.Now()
	if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: userID, Keep: uuid.Nil, Now: now, Reason: reason}); err != nil {
		return err
	}
	return q.UserBumpTokenVersion(ctx, db.UserBumpTokenVersionParams{ID: userID, Now: now})
}

// GetProfile answers the caller's account, as the authentication read it.
func (h *Handlers) GetProfile(ctx context.Context, _ api.GetProfileRequestObject) (api.GetProfileResponseObject, error) {
	return api.GetProfile200JSONResponse(apiUser(kit.CallerFrom(ctx).User)), nil
}

// ChangePassword replaces the caller's password and ends their other sessions.
//
// The current password is guessed here as at login by whoever holds a stolen access token, and
// every guess costs a bcrypt that other users' logins queue behind: so a wrong one counts as a
// failed login of the account from this client, under the login throttle.
func (h *Handlers) ChangePassword(ctx context.Context, req api.ChangePasswordRequestObject) (api.ChangePasswordResponseObject, error) {
	c := kit.CallerFrom(ctx)
	body := req.Body
	now := h.d.Now()
	wait, err := h.throttled(ctx, h.d.Queries, c.User.Email, now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		if err := kit.Audit(ctx, h.d, h.d.Queries, api.AuditEventTypeLoginLocked, &c.User.ID, &c.SessionID); err != nil {
			return nil, err
		}
		return nil, &problem.Error{Code: api.ProblemCodeAccountThrottled, Detail: throttledDetail, RetryAfter: wait}
	}
	ok, _, err := h.hasher.Verify(ctx, c.User.PasswordHash, body.CurrentPassword)
	if err != nil {
		return nil, err
	}
	if !ok {
		err := h.d.InTx(ctx, func(q *db.Queries) error {
			if err := h.recordLoginFailure(ctx, q, c.User.Email, now); err != nil {
				return err
			}
			return kit.Audit(ctx, h.d, q, api.AuditEventTypePasswordChangeFailed, &c.User.ID, &c.SessionID)
		})
		if err != nil {
			return nil, err
		}
		return nil, problem.Refuse(api.ProblemCodeInvalidCurrentPassword, "The current password is wrong.")
	}
	if err := password.Check(body.NewPassword); err != nil {
		return nil, problem.RefuseField("newPassword", err.Error())
	}
	hash, err := h.hasher.Hash(ctx, body.NewPassword)
	if err != nil {
		return nil, err
	}
	err = h.d.InTx(ctx, func(q *db.Queries) error {
		if err := h.resetLoginFailures(ctx, q, c.User.Email); err != nil {
			return err
		}
		if err := q.UserSetPassword(ctx, db.UserSetPasswordParams{ID: c.User.ID, PasswordHash: hash, Now: now}); err != nil {
			return err
		}
		if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: c.User.ID, Keep: c.SessionID, Now: now, Reason: string(api.AuditEventTypePasswordChanged)}); err != nil {
			return err
		}
		return kit.Audit(ctx, h.d, q, api.AuditEventTypePasswordChanged, &c.User.ID, &c.SessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.ChangePassword204Response{}, nil
}
