-- name: AuditEventCreate :exec
INSERT INTO audit_events (id, type, user_id, actor_id, actor_api_key_id, api_key_id, session_id, ip, user_agent, created_at)
VALUES (@id, @type, @user_id, @actor_id, @actor_api_key_id, @api_key_id, @session_id, @ip, @user_agent, @now);

-- name: AuditEventList :many
-- Newest first, keyset by id (UUIDv7): before_id is the last id of the previous page.
SELECT * FROM audit_events
WHERE (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
  AND (sqlc.narg(user_id)::uuid IS NULL OR user_id = sqlc.narg(user_id)::uuid)
  AND (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type)::text)
ORDER BY id DESC
LIMIT @row_limit;
