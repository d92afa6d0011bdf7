-- name: SessionCreate :one
INSERT INTO sessions (id, user_id, refresh_hash, generation, created_at, last_used_at, rotated_at,
                      expires_at, absolute_expires_at, user_agent, ip)
VALUES (@id, @user_id, @refresh_hash, 1, @now, @now, @now, @expires_at, @absolute_expires_at,
        @user_agent, @ip)
RETURNING *;

-- name: SessionAuthenticate :one
-- The per-request check behind every bearer token: the session is live and its user is returned
-- in the same round trip (the handler needs no second query for the caller).
SELECT sqlc.embed(u)
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = @session_id
  AND s.user_id = @user_id
  AND s.revoked_at IS NULL
  AND s.expires_at > @now;

-- name: SessionAuthenticateCached :one
-- SessionAuthenticate for the session cache (server/sessioncache), which also keeps the session's
-- expiry so that a cached session is refused once it passes.
SELECT sqlc.embed(u), s.expires_at
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = @session_id
  AND s.user_id = @user_id
  AND s.revoked_at IS NULL
  AND s.expires_at > @now;

-- name: AuthNotifySync :exec
-- A marker on the channel the session cache listens to (schema/000008): once the listener sees
-- it, it has seen every change committed before it was sent (PostgreSQL delivers notifications in
-- commit order).
SELECT pg_notify('ecompointer_auth', @payload::text);

-- name: AuthHeartbeat :exec
-- The session cache's heartbeat (server/sessioncache): each instance notifies a channel of its own,
-- which its listening connection also listens to, and trusts its cache only while these arrive on
-- time.
SELECT pg_notify(@channel::text, @payload::text);

-- name: SessionGetForRefresh :one
-- Locks the session row for the refresh transaction: concurrent refreshes of one session
-- serialize here, so exactly one of them rotates.
SELECT sqlc.embed(s), sqlc.embed(u)
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = @id
FOR UPDATE OF s;

-- name: SessionRotateCurrent :one
-- The common refresh in one statement, no transaction around it: the presented token is the
-- session's current generation, the session and its user are live, and the new expiry is within
-- the session's absolute limit. The row lock it takes serializes concurrent refreshes: the first
-- one rotates, the others find the generation moved and take the locked slow path (grace or
-- reuse). The presented token's hash must be the stored one: a validly signed token that is not
-- the one issued (only a holder of the signing key makes one) rotates nothing here and is dealt
-- with by the slow path, which revokes the session and audits it in one transaction. (Comparing
-- SHA-256 digests in SQL leaks no timing an attacker can use: they cannot choose a digest's
-- bytes.) No row: anything else, which the slow path sorts out.
UPDATE sessions s
SET previous_hash = s.refresh_hash,
    refresh_hash = @refresh_hash,
    generation = s.generation + 1,
    rotated_at = @now,
    last_used_at = @now,
    expires_at = @expires_at
FROM users u
WHERE s.id = @id
  AND s.user_id = @user_id
  AND s.generation = @generation
  AND s.refresh_hash = @presented_hash
  AND s.revoked_at IS NULL
  AND s.expires_at > @now
  AND s.absolute_expires_at >= @expires_at
  AND u.id = s.user_id
  AND NOT u.disabled
  AND u.token_version = @token_version
RETURNING sqlc.embed(u);

-- name: SessionRotate :one
-- Moves the session to its next generation. The generation in the WHERE clause makes the update a
-- no-op if another rotation won.
UPDATE sessions
SET previous_hash = refresh_hash,
    refresh_hash = @refresh_hash,
    generation = generation + 1,
    rotated_at = @now,
    last_used_at = @now,
    expires_at = @expires_at
WHERE id = @id AND generation = @generation AND revoked_at IS NULL
RETURNING *;

-- name: SessionRevoke :execrows
-- Revokes one live session of the user: no row means it is unknown, another user's or dead.
UPDATE sessions
SET revoked_at = @now::timestamptz, revoked_reason = @reason::text
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL;

-- name: SessionRevokeAllOfUser :exec
-- Revokes every live session of the user but the one to keep (the nil UUID keeps none).
UPDATE sessions
SET revoked_at = @now::timestamptz, revoked_reason = @reason::text
WHERE user_id = @user_id AND revoked_at IS NULL AND id <> @keep;

-- name: SessionRevokeLeastRecentlyUsed :exec
-- Keeps at most keep_live live sessions of the user, revoking the least recently used.
UPDATE sessions
SET revoked_at = @now::timestamptz, revoked_reason = 'evicted'
WHERE id IN (
  SELECT live.id FROM sessions live
  WHERE live.user_id = @user_id AND live.revoked_at IS NULL
  ORDER BY live.last_used_at DESC, live.id DESC
  OFFSET @keep_live
);

-- name: SessionListLive :many
SELECT * FROM sessions
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now
ORDER BY last_used_at DESC, id DESC
LIMIT @row_limit;

-- name: SessionPrune :execrows
-- Deletes sessions that have been dead (expired or revoked) since before the cutoff.
DELETE FROM sessions
WHERE expires_at < @before OR revoked_at < @before;
