-- name: ReservationCreate :one
INSERT INTO reservations (brand_id, id, reference, expires_at, created_by, created_at, updated_at)
VALUES (@brand_id, @id, sqlc.narg(reference), @expires_at, sqlc.narg(created_by), @now, @now)
RETURNING *;

-- name: ReservationAllocationsAdd :exec
-- Each allocation carries its reservation's expiry (kept in step by a trigger, schema 000011).
INSERT INTO reservation_allocations (brand_id, reservation_id, line_no, product_id, location_id, quantity, expires_at)
SELECT @brand_id::uuid, @reservation_id::uuid, unnest(@line_nos::int[]), unnest(@product_ids::uuid[]),
       unnest(@location_ids::uuid[]), unnest(@quantities::bigint[]),
       (SELECT r.expires_at FROM reservations r WHERE r.brand_id = @brand_id::uuid AND r.id = @reservation_id::uuid);

-- name: ReservationGet :one
SELECT * FROM reservations WHERE brand_id = @brand_id AND id = @id;

-- name: ReservationGetForUpdate :one
-- Locks the reservation first (the shared lock order): a release, the sweeper and an order that
-- consumes it serialize on this row.
SELECT * FROM reservations WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: ReservationAllocations :many
SELECT * FROM reservation_allocations
WHERE brand_id = @brand_id AND reservation_id = ANY(@reservation_ids::uuid[])
ORDER BY reservation_id, line_no, location_id;

-- name: ReservationList :many
-- Newest first, keyset by id; status as the API shows it (an active hold past its expiry reads
-- expired even before the sweeper has released it).
SELECT * FROM reservations
WHERE brand_id = @brand_id
  AND (sqlc.narg(status)::text IS NULL OR sqlc.narg(status)::text = CASE
        WHEN status = 'active' AND expires_at <= @now THEN 'expired'
        ELSE status::text
      END)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: ReservationEnd :many
-- The reservation as ended (for its event), or no row when it was no longer active.
UPDATE reservations
SET status = @status, ended_at = @now::timestamptz, version = version + 1, updated_at = @now::timestamptz
WHERE brand_id = @brand_id AND id = @id AND status = 'active'
RETURNING *;

-- name: ReservationExtend :one
UPDATE reservations
SET expires_at = @expires_at, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id AND status = 'active' AND expires_at > @now
RETURNING *;

-- name: ReservationsDue :many
-- The sweeper's work list across brands (a policy lets it see active holds' ids only when
-- app.sweeper is on), oldest expiry first.
SELECT brand_id, id FROM reservations
WHERE status = 'active' AND expires_at <= @now
ORDER BY expires_at
LIMIT @row_limit;

-- name: ReservationLockDue :one
-- Locks one expired, still active hold for the sweeper; none when another sweeper or a release
-- holds it (SKIP LOCKED) or it ended meanwhile: each hold is released once.
SELECT * FROM reservations
WHERE brand_id = @brand_id AND id = @id AND status = 'active' AND expires_at <= @now
FOR UPDATE SKIP LOCKED;
