-- The import scenario's import (its id bound as @id), once its job has ended: the milliseconds
-- from its upload to its end, or -1 while it runs, -2 when it failed.
SELECT coalesce((
  SELECT CASE
    WHEN status = 'succeeded' THEN greatest(1, (extract(epoch FROM finished_at - created_at) * 1000)::int)
    WHEN status = 'failed' THEN -2
    ELSE -1 END
  FROM imports WHERE id = @id::uuid), -1);
