-- Enum values cannot be dropped: the fills' history rows go, and the value stays unused
-- (re-applying the up migration adds it IF NOT EXISTS).
DELETE FROM order_events WHERE action = 'backorder_fill';
