DROP FUNCTION uuid_v7();
DROP FUNCTION event_envelope(uuid, text, uuid, timestamptz, text, uuid, bigint, jsonb);
