-- name: CustomerCreate :one
INSERT INTO customers (brand_id, id, email, name, phone, addresses, created_at, updated_at)
VALUES (@brand_id, @id, @email, @name, sqlc.narg(phone), @addresses, @now, @now)
RETURNING *;

-- name: CustomerFindOrCreate :one
-- An order's inline customer: the brand's customer with this (lowercased) email, created when
-- there is none. Two orders creating the same new customer at once: the second waits on the
-- first's unique entry, then finds its row (the conflict branch touches nothing but returns it).
WITH created AS (
  INSERT INTO customers (brand_id, id, email, name, phone, addresses, created_at, updated_at)
  VALUES (@brand_id, @id, @email, @name, sqlc.narg(phone), @addresses, @now, @now)
  ON CONFLICT (brand_id, email) DO NOTHING
  RETURNING *
)
SELECT * FROM created
UNION ALL
SELECT * FROM customers WHERE brand_id = @brand_id AND email = @email AND NOT EXISTS (SELECT 1 FROM created);

-- name: CustomerGet :one
SELECT * FROM customers WHERE brand_id = @brand_id AND id = @id;

-- name: CustomerLock :one
SELECT * FROM customers WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: CustomerUpdate :one
UPDATE customers
SET email = coalesce(sqlc.narg(email), email),
    name = coalesce(sqlc.narg(name), name),
    phone = CASE WHEN @set_phone::bool THEN sqlc.narg(phone) ELSE phone END,
    addresses = coalesce(sqlc.narg(addresses), addresses),
    version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: CustomerAnonymize :one
-- Replaces what identifies the person; the orders keep the snapshot they were placed with.
UPDATE customers
SET email = @email, name = 'Anonymised customer', phone = NULL, addresses = '[]',
    anonymized_at = coalesce(anonymized_at, @now), version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: CustomerDelete :execrows
DELETE FROM customers WHERE brand_id = @brand_id AND id = @id;

-- name: CustomerList :many
-- Newest first, keyset by id (UUIDv7). q matches part of the email or the name, in any case.
SELECT * FROM customers
WHERE brand_id = @brand_id
  AND (sqlc.narg(q)::text IS NULL
       OR strpos(email, lower(sqlc.narg(q)::text)) > 0
       OR strpos(lower(name), lower(sqlc.narg(q)::text)) > 0)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: CustomerByEmail :one
SELECT * FROM customers WHERE brand_id = @brand_id AND email = @email;
