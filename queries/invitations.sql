-- name: InvitationCreate :one
INSERT INTO invitations (brand_id, id, email, role, token_hash, invited_by, expires_at, created_at)
VALUES (@brand_id, @id, lower(@email::text), @role, @token_hash, @invited_by, @expires_at, @now)
RETURNING *;

-- name: InvitationRevokePending :exec
-- Revokes the brand's pending invitation of an email, which a new one replaces.
UPDATE invitations
SET revoked_at = @now::timestamptz
WHERE brand_id = @brand_id AND email = @email::text AND accepted_at IS NULL AND revoked_at IS NULL;

-- name: InvitationGet :one
SELECT * FROM invitations WHERE brand_id = @brand_id AND id = @id;

-- name: InvitationGetForUpdate :one
-- Locks the invitation: two accepts of one token serialize, and only the first succeeds.
SELECT * FROM invitations WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: InvitationList :many
-- Newest first, keyset by id (UUIDv7), optionally only one status (derived, as the API shows it).
SELECT * FROM invitations
WHERE brand_id = @brand_id
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
  AND (sqlc.narg(status)::text IS NULL OR sqlc.narg(status)::text = CASE
        WHEN accepted_at IS NOT NULL THEN 'accepted'
        WHEN revoked_at IS NOT NULL THEN 'revoked'
        WHEN expires_at <= @now THEN 'expired'
        ELSE 'pending'
      END)
ORDER BY id DESC
LIMIT @row_limit;

-- name: InvitationRevoke :exec
UPDATE invitations SET revoked_at = @now::timestamptz
WHERE brand_id = @brand_id AND id = @id AND accepted_at IS NULL AND revoked_at IS NULL;

-- name: InvitationAccept :exec
UPDATE invitations SET accepted_at = @now::timestamptz, accepted_by = @user_id::uuid
WHERE brand_id = @brand_id AND id = @id;
