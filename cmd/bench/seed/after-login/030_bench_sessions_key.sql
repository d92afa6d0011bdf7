ALTER TABLE bench_sessions ADD PRIMARY KEY (n);
