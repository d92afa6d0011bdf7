-- name: AppRoleEnsure :exec
-- Creates the application role when missing and grants it what request statements need.
SELECT app_role_ensure(@role_name::text);
