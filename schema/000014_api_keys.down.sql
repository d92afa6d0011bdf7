ALTER TABLE audit_events DROP COLUMN api_key_id, DROP COLUMN actor_api_key_id;
DROP TABLE api_keys;
DROP FUNCTION auth_notify_api_key();
