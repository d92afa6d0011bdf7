DROP FUNCTION IF EXISTS app_role_ensure(text);
