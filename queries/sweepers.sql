-- name: SweeperScopeSet :exec
SELECT set_config('app.sweeper', 'on', true);
