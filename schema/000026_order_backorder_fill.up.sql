-- A receipt (any arrival of stock, or a release) that fills an order's backorder changes the
-- order as its API shows it (a line's quantityBackordered falls, its allocations grow): the order's
-- version is bumped, so its ETag changes and an If-Match naming the version before fails, and its
-- history records the fill as an event of its own (server/orders/filled.go).
ALTER TYPE order_action ADD VALUE IF NOT EXISTS 'backorder_fill';
