DROP TRIGGER users_auth_notify_delete ON users;
DROP TRIGGER users_auth_notify ON users;
DROP TRIGGER sessions_auth_notify_delete ON sessions;
DROP TRIGGER sessions_auth_notify ON sessions;
DROP FUNCTION auth_notify_user();
DROP FUNCTION auth_notify_session();
