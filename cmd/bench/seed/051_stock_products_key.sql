ALTER TABLE bench_stock_products ADD PRIMARY KEY (b, i);
