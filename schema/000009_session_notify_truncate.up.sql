-- TRUNCATE announces nothing through the row triggers of 000008 (it deletes no rows one by one):
-- instances kept accepting the tokens of sessions a TRUNCATE had deleted (issue 16). A
-- statement-level trigger on each table tells every session cache to forget everything: the
-- payload 'a' (all). Like every NOTIFY it is sent at commit, and not at all if the TRUNCATE rolls
-- back. TRUNCATE users ... CASCADE fires the trigger of every table it empties, sessions included.

CREATE FUNCTION auth_notify_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ecompointer_auth', 'a');
  RETURN NULL;
END
$$;

CREATE TRIGGER sessions_auth_notify_truncate AFTER TRUNCATE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all();

CREATE TRIGGER users_auth_notify_truncate AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all();
