-- The users logged in through the API at bcrypt cost 4 (fast); now their hash is made at the
-- configured cost, so that POST /auth/login verifies at that cost and never rehashes.
UPDATE users SET password_hash = @password_hash::text WHERE email LIKE 'bench-%@example.com';
