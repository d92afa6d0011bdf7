package server

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
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/password"
	"github.com/ecompointer/ecompointer/server/token"
)

// Register creates a brand owner and their brand, and opens their first session.
func (s *Server) Register(ctx context.Context, req api.RegisterRequestObject) (api.RegisterResponseObject, error) {
	body := req.Body
	if err := password.Check(body.Password); err != nil {
		return api.Register400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, "password", err.Error())}, nil
	}
	hash, err := s.hasher.Hash(ctx, body.Password)
	if err != nil {
		return nil, err
	}
	brandName := body.Name
	if body.BrandName != nil {
		brandName = *body.BrandName
	}

	var auth api.AuthResponse
	err = s.inTx(ctx, func(q *db.Queries) error {
		brand, err := s.createBrand(ctx, q, brandName)
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
			Now:          s.now(),
		})
		if err != nil {
			return err
		}
		auth, err = s.openSession(ctx, q, user, api.AuditEventTypeRegister)
		return err
	})
	if isConflict(err, "users_email_key") {
		return api.Register409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: conflict(ctx, api.ProblemCodeEmailTaken, "An account with this email exists.")}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.Register201JSONResponse{AuthenticatedJSONResponse: authenticated(auth)}, nil
}

// createBrand creates a brand with a slug derived from its name, suffixed when the plain one is
// taken.
func (s *Server) createBrand(ctx context.Context, q *db.Queries, name string) (db.Brand, error) {
	base := slugify(name)
	slug := base
	for attempt := 0; attempt < 8; attempt++ {
		brand, err := q.BrandCreate(ctx, db.BrandCreateParams{
			ID:       uuid.Must(uuid.NewV7()),
			Name:     name,
			Slug:     slug,
			Currency: "USD",
			Now:      s.now(),
		})
		if !errors.Is(dbError(err), errNotFound) {
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
func (s *Server) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	body := req.Body
	email := strings.ToLower(string(body.Email))
	invalid := api.Login401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx, api.ProblemCodeInvalidCredentials, "The email or the password is wrong.")}

	user, err := s.queries.UserGetByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(dbError(err), errNotFound) {
		return nil, err
	}
	var userID *uuid.UUID
	if known {
		userID = &user.ID
	}
	now := s.now()
	wait, err := s.throttled(ctx, s.queries, email, now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		// Refused before the password is even checked: while throttled, guessing is pointless,
		// and a throttled client costs no bcrypt.
		if err := s.audit(ctx, s.queries, api.AuditEventTypeLoginLocked, userID, nil); err != nil {
			return nil, err
		}
		observe.LoginOutcome(observe.LoginThrottled)
		return api.Login429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: tooManyRequests(ctx, api.ProblemCodeAccountThrottled, throttledDetail, wait)}, nil
	}

	var ok, rehash bool
	if known {
		ok, rehash, err = s.hasher.Verify(ctx, user.PasswordHash, body.Password)
	} else {
		// Spend what a wrong password costs, so the answer's timing does not say the email is
		// unknown.
		err = s.hasher.VerifyNobody(ctx, body.Password)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		err := s.inTx(ctx, func(q *db.Queries) error {
			if err := s.recordLoginFailure(ctx, q, email, now); err != nil {
				return err
			}
			return s.audit(ctx, q, api.AuditEventTypeLoginFailed, userID, nil)
		})
		if err != nil {
			return nil, err
		}
		observe.LoginOutcome(observe.LoginBadCredentials)
		return invalid, nil
	}
	if user.Disabled {
		observe.LoginOutcome(observe.LoginDisabled)
		return api.Login403ApplicationProblemPlusJSONResponse{ForbiddenApplicationProblemPlusJSONResponse: forbidden(ctx, api.ProblemCodeAccountDisabled, "This account is disabled.")}, nil
	}

	var newHash string
	if rehash {
		// The cost changed since this hash was made: now that the password is known, upgrade it.
		if newHash, err = s.hasher.Hash(ctx, body.Password); err != nil {
			return nil, err
		}
	}
	var auth api.AuthResponse
	err = s.inTx(ctx, func(q *db.Queries) error {
		if err := s.resetLoginFailures(ctx, q, email); err != nil {
			return err
		}
		if newHash != "" {
			if err := q.UserUpgradeHash(ctx, db.UserUpgradeHashParams{ID: user.ID, PasswordHash: newHash, Now: now}); err != nil {
				return err
			}
		}
		var err error
		auth, err = s.openSession(ctx, q, user, api.AuditEventTypeLoginSucceeded)
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
func (s *Server) openSession(ctx context.Context, q *db.Queries, user db.User, event api.AuditEventType) (api.AuthResponse, error) {
	now := s.now()
	id := uuid.Must(uuid.NewV7())
	absolute := now.Add(s.auth.SessionMaxAge)
	expires := earliest(now.Add(s.auth.RefreshTTL), absolute)
	_, sign := observe.Start(ctx, "token.sign")
	refresh, err := s.tokens.SignRefresh(token.Refresh{
		UserID: user.ID, SessionID: id, Generation: 1, Version: user.TokenVersion,
		IssuedAt: now, ExpiresAt: expires,
	})
	sign.End()
	if err != nil {
		return api.AuthResponse{}, err
	}
	if err := q.SessionRevokeLeastRecentlyUsed(ctx, db.SessionRevokeLeastRecentlyUsedParams{
		Now: now, UserID: user.ID, KeepLive: int32(s.auth.SessionsMaxPerUser - 1), //nolint:gosec // bounded by configuration
	}); err != nil {
		return api.AuthResponse{}, err
	}
	meta := requestMetaFrom(ctx)
	if _, err := q.SessionCreate(ctx, db.SessionCreateParams{
		ID:                id,
		UserID:            user.ID,
		RefreshHash:       hashToken(refresh),
		Now:               now,
		ExpiresAt:         expires,
		AbsoluteExpiresAt: absolute,
		UserAgent:         optional(meta.userAgent),
		Ip:                optional(meta.ip),
	}); err != nil {
		return api.AuthResponse{}, err
	}
	// The new session's user proved who it is (password, invitation): it is the actor.
	if err := s.auditAs(ctx, q, event, &user.ID, &user.ID, &id); err != nil {
		return api.AuthResponse{}, err
	}
	return s.authResponse(user, id, refresh)
}

// authResponse pairs a fresh access token with the session's refresh token.
func (s *Server) authResponse(user db.User, sessionID uuid.UUID, refresh string) (api.AuthResponse, error) {
	access, _, err := s.tokens.SignAccess(token.Access{
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
		ExpiresIn:    int(s.tokens.AccessTTL() / time.Second),
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
func (s *Server) Refresh(ctx context.Context, req api.RefreshRequestObject) (api.RefreshResponseObject, error) {
	invalid := func(detail string) api.RefreshResponseObject {
		observe.RefreshOutcome(observe.RefreshInvalid)
		return api.Refresh401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx, api.ProblemCodeInvalidRefreshToken, detail)}
	}
	presented := req.Body.RefreshToken
	claims, err := s.tokens.VerifyRefresh(presented)
	if errors.Is(err, token.ErrExpired) {
		return invalid("The refresh token expired; log in again."), nil
	}
	if err != nil {
		return invalid("The refresh token is not valid."), nil
	}

	if auth, ok, err := s.rotateCurrent(ctx, presented, claims); err != nil || ok {
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
	err = s.inTx(ctx, func(q *db.Queries) error {
		row, err := q.SessionGetForRefresh(ctx, claims.SessionID)
		if errors.Is(dbError(err), errNotFound) {
			reason = "The session of this refresh token does not exist."
			return nil
		}
		if err != nil {
			return err
		}
		sess, user := row.Session, row.User
		now := s.now()
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
			expires := earliest(now.Add(s.auth.RefreshTTL), sess.AbsoluteExpiresAt)
			refresh, err = s.tokens.SignRefresh(token.Refresh{
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
			s.auth.RefreshReuseGrace > 0 && now.Sub(sess.RotatedAt) <= s.auth.RefreshReuseGrace:
			// A benign race: the client lost the answer to its last refresh, or another tab won.
			// It gets the successor that already exists, re-issued byte for byte; nothing rotates.
			issued = observe.RefreshGrace
			refresh, err = s.tokens.SignRefresh(token.Refresh{
				UserID: user.ID, SessionID: sess.ID, Generation: sess.Generation, Version: user.TokenVersion,
				IssuedAt: sess.RotatedAt, ExpiresAt: sess.ExpiresAt,
			})
			if err != nil {
				return err
			}
			if !tokenMatches(refresh, sess.RefreshHash) {
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
			return s.auditAs(ctx, q, api.AuditEventTypeRefreshForged, nil, &user.ID, &sess.ID)
		case claims.Generation < sess.Generation:
			// An old token came back: it was stolen or replayed (RFC 9700 §4.14.2). The session
			// cannot tell the thief from its owner, so it ends for both.
			if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: sess.ID, UserID: user.ID, Now: now, Reason: string(api.AuditEventTypeRefreshReuse)}); err != nil {
				return err
			}
			outcome = refreshReused
			return s.audit(ctx, q, api.AuditEventTypeRefreshReuse, &user.ID, &sess.ID)
		}
		auth, err = s.authResponse(user, sess.ID, refresh)
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
		return api.Refresh401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx, api.ProblemCodeRefreshTokenReused,
			"This refresh token was already used; the session is revoked. Log in again.")}, nil
	case refreshForged:
		return invalid("The refresh token is not valid; the session is revoked. Log in again."), nil
	default:
		return invalid(reason), nil
	}
}

// rotateCurrent is the common refresh, in one statement: the presented token is its session's
// current one, so the session moves to the next generation. ok is false when that is not the
// case (grace, reuse, a dead session...), and nothing was written.
func (s *Server) rotateCurrent(ctx context.Context, presented string, claims token.Refresh) (api.AuthResponse, bool, error) {
	now := s.now()
	expires := now.Add(s.auth.RefreshTTL) // past the session's absolute limit: no row, slow path
	_, sign := observe.Start(ctx, "token.sign")
	refresh, err := s.tokens.SignRefresh(token.Refresh{
		UserID: claims.UserID, SessionID: claims.SessionID, Generation: claims.Generation + 1, Version: claims.Version,
		IssuedAt: now, ExpiresAt: expires,
	})
	sign.End()
	if err != nil {
		return api.AuthResponse{}, false, err
	}
	row, err := s.queries.SessionRotateCurrent(ctx, db.SessionRotateCurrentParams{
		ID: claims.SessionID, UserID: claims.UserID, Generation: claims.Generation, TokenVersion: claims.Version,
		PresentedHash: hashToken(presented), RefreshHash: hashToken(refresh), Now: now, ExpiresAt: expires,
	})
	if errors.Is(dbError(err), errNotFound) {
		return api.AuthResponse{}, false, nil
	}
	if err != nil {
		return api.AuthResponse{}, false, err
	}
	auth, err := s.authResponse(row.User, claims.SessionID, refresh)
	return auth, err == nil, err
}

// tokenMatches compares a token with a stored hash in constant time.
func tokenMatches(tok string, hash []byte) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hashToken(tok), hash) == 1
}

// Logout revokes the caller's session.
func (s *Server) Logout(ctx context.Context, _ api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	c := callerFrom(ctx)
	err := s.inTx(ctx, func(q *db.Queries) error {
		if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: c.sessionID, UserID: c.user.ID, Now: s.now(), Reason: string(api.AuditEventTypeLogout)}); err != nil {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypeLogout, &c.user.ID, &c.sessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.Logout204Response{}, nil
}

// LogoutAll revokes every session of the caller and every token issued to them.
func (s *Server) LogoutAll(ctx context.Context, _ api.LogoutAllRequestObject) (api.LogoutAllResponseObject, error) {
	c := callerFrom(ctx)
	err := s.inTx(ctx, func(q *db.Queries) error {
		if err := s.revokeEverything(ctx, q, c.user.ID, string(api.AuditEventTypeLogoutAll)); err != nil {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypeLogoutAll, &c.user.ID, &c.sessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.LogoutAll204Response{}, nil
}

// revokeEverything ends every session of the user and invalidates every token issued to them
// (logout-all, a role change, a disabled account).
func (s *Server) revokeEverything(ctx context.Context, q *db.Queries, userID uuid.UUID, reason string) error {
	now := s.now()
	if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: userID, Keep: uuid.Nil, Now: now, Reason: reason}); err != nil {
		return err
	}
	return q.UserBumpTokenVersion(ctx, db.UserBumpTokenVersionParams{ID: userID, Now: now})
}

// GetProfile answers the caller's account, as the authentication read it.
func (s *Server) GetProfile(ctx context.Context, _ api.GetProfileRequestObject) (api.GetProfileResponseObject, error) {
	return api.GetProfile200JSONResponse(apiUser(callerFrom(ctx).user)), nil
}

// ChangePassword replaces the caller's password and ends their other sessions.
//
// The current password is guessed here as at login by whoever holds a stolen access token, and
// every guess costs a bcrypt that other users' logins queue behind: so a wrong one counts as a
// failed login of the account from this client, under the login throttle.
func (s *Server) ChangePassword(ctx context.Context, req api.ChangePasswordRequestObject) (api.ChangePasswordResponseObject, error) {
	c := callerFrom(ctx)
	body := req.Body
	now := s.now()
	wait, err := s.throttled(ctx, s.queries, c.user.Email, now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		if err := s.audit(ctx, s.queries, api.AuditEventTypeLoginLocked, &c.user.ID, &c.sessionID); err != nil {
			return nil, err
		}
		return api.ChangePassword429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: tooManyRequests(ctx, api.ProblemCodeAccountThrottled, throttledDetail, wait)}, nil
	}
	ok, _, err := s.hasher.Verify(ctx, c.user.PasswordHash, body.CurrentPassword)
	if err != nil {
		return nil, err
	}
	if !ok {
		err := s.inTx(ctx, func(q *db.Queries) error {
			if err := s.recordLoginFailure(ctx, q, c.user.Email, now); err != nil {
				return err
			}
			return s.audit(ctx, q, api.AuditEventTypePasswordChangeFailed, &c.user.ID, &c.sessionID)
		})
		if err != nil {
			return nil, err
		}
		return api.ChangePassword422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: unprocessable(ctx, api.ProblemCodeInvalidCurrentPassword, "The current password is wrong.")}, nil
	}
	if err := password.Check(body.NewPassword); err != nil {
		return api.ChangePassword400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, "newPassword", err.Error())}, nil
	}
	hash, err := s.hasher.Hash(ctx, body.NewPassword)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(q *db.Queries) error {
		if err := s.resetLoginFailures(ctx, q, c.user.Email); err != nil {
			return err
		}
		if err := q.UserSetPassword(ctx, db.UserSetPasswordParams{ID: c.user.ID, PasswordHash: hash, Now: now}); err != nil {
			return err
		}
		if err := q.SessionRevokeAllOfUser(ctx, db.SessionRevokeAllOfUserParams{UserID: c.user.ID, Keep: c.sessionID, Now: now, Reason: string(api.AuditEventTypePasswordChanged)}); err != nil {
			return err
		}
		return s.audit(ctx, q, api.AuditEventTypePasswordChanged, &c.user.ID, &c.sessionID)
	})
	if err != nil {
		return nil, err
	}
	return api.ChangePassword204Response{}, nil
}
