DROP FUNCTION events_horizon();
DROP TABLE events;
