-- FORCE ends the connections a failed run may have left (PostgreSQL 13+).
DROP DATABASE IF EXISTS {{.}} WITH (FORCE)
