-- name: UserCreate :one
INSERT INTO users (id, email, name, password_hash, role, brand_id, created_at, updated_at)
VALUES (@id, lower(@email::text), @name, @password_hash, @role, @brand_id, @now, @now)
RETURNING *;

-- name: UserGet :one
SELECT * FROM users WHERE id = @id;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE email = @email::text;

-- name: UserList :many
-- Keyset pagination by id, which is a UUIDv7 and so in creation order. after_id is the last id of the previous page.
SELECT * FROM users
WHERE sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid
ORDER BY id
LIMIT @row_limit;

-- name: UserUpgradeHash :exec
-- Replaces a hash made at another bcrypt cost, once a login has proved the password.
UPDATE users SET password_hash = @password_hash, updated_at = @now WHERE id = @id;

-- name: UserSetPassword :exec
UPDATE users SET password_hash = @password_hash, updated_at = @now WHERE id = @id;

-- name: UserBumpTokenVersion :exec
-- Invalidates every token issued to the user so far.
UPDATE users SET token_version = token_version + 1, updated_at = @now WHERE id = @id;

-- name: UserUpdateAccess :one
-- Changes role and/or disabled and invalidates every token of the user (they carry the role).
UPDATE users
SET role = coalesce(sqlc.narg(role)::user_role, role),
    disabled = coalesce(sqlc.narg(disabled)::boolean, disabled),
    token_version = token_version + 1,
    updated_at = @now
WHERE id = @id
RETURNING *;

-- name: UserLockForUpdate :one
SELECT * FROM users WHERE id = @id FOR UPDATE;

-- name: UserLockBrandOwners :many
-- Locks the brand's enabled owners, so two concurrent demotions cannot both see "another owner
-- remains" and leave the brand with none.
SELECT id FROM users
WHERE brand_id = @brand_id AND role = 'BRAND_OWNER' AND NOT disabled
ORDER BY id
FOR UPDATE;

-- name: MemberList :many
-- The brand's members (removed ones left out), keyset by id.
SELECT * FROM users
WHERE brand_id = @brand_id
  AND removed_at IS NULL
  AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: MemberGet :one
SELECT * FROM users WHERE id = @id AND brand_id = @brand_id AND removed_at IS NULL;

-- name: UserRemove :one
-- Takes a member out of the brand: disabled, out of the member list, every token dead.
UPDATE users
SET disabled = true, removed_at = @now::timestamptz, token_version = token_version + 1, updated_at = @now::timestamptz
WHERE id = @id
RETURNING *;

-- name: UserLockEnabledAdmins :many
-- Locks the enabled ADMINs, so two ADMINs disabling each other at once serialize: the second one
-- sees the first's change and is refused instead of leaving no ADMIN at all.
SELECT id FROM users
WHERE role = 'ADMIN' AND NOT disabled
ORDER BY id
FOR UPDATE;
