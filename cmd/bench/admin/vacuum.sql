-- Before every run: a run of refreshes rewrites thousands of session rows (their indexes cannot
-- take HOT updates), and what it leaves dead would slow the next run down, the limits measured
-- last most of all. Every run starts from a clean database instead.
VACUUM (ANALYZE)
