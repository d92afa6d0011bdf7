DROP TRIGGER users_auth_notify_truncate ON users;
DROP TRIGGER sessions_auth_notify_truncate ON sessions;
DROP FUNCTION auth_notify_all();
