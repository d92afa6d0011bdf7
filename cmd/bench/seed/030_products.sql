-- The catalog: @products products in each brand, product k (from 0) of brand b numbered
-- n = b + k * @brands with id bench_uuid(3, n), so a client names a product of its own brand
-- without a lookup. Every choice below is a hash of n, so the catalog is the same in every run.
--
-- Names are "<finish> <material> <item>", and one product in fifty adds " – <collection>
-- edition": a `q` of a material (brass, walnut, ...) matches about one product in thirty (the
-- common search), a collection (zephyr, ...) one in a thousand (the rare one); SKUs are
-- <MAT>-<ITE>-<k>. Attributes are strings, as the API has them; statuses are mostly active, tags
-- zero to two of eight, and created_at spreads over two years, so the newest page is a keyset
-- scan, not the last rows written.
--
-- The products table is under FORCE ROW LEVEL SECURITY: this runs as the login the harness
-- creates the database with (postgres, a superuser, which bypasses row security). A login that
-- neither is a superuser nor has BYPASSRLS fails here, on the policy, rather than seeding nothing.
INSERT INTO products (brand_id, id, sku, name, description, price_amount, currency, status,
                      attributes, tags, version, created_at, updated_at)
SELECT bench_uuid(1, b), bench_uuid(3, n),
       upper(left(material, 3)) || '-' || upper(left(item, 3)) || '-' || lpad(k::text, 6, '0'),
       finish || ' ' || material || ' ' || item
         || CASE WHEN (h / 4480) % 50 = 0 THEN ' – ' || collection || ' edition' ELSE '' END,
       CASE WHEN (h / 224000) % 10 < 7 THEN
         'A ' || lower(finish) || ' ' || lower(item) || ' in ' || lower(material)
           || ', made to order and shipped flat-packed with everything needed to put it together.'
       END,
       500 + (h / 2240000) % 49500, 'USD',
       (CASE WHEN h % 20 < 16 THEN 'active' WHEN h % 20 < 19 THEN 'draft' ELSE 'archived' END)::product_status,
       jsonb_build_object('material', lower(material), 'color', color, 'weight', (200 + h2 % 9800) || ' g'),
       CASE (h / 20) % 4
         WHEN 0 THEN '{}'::text[]
         WHEN 1 THEN ARRAY[tag_words[1 + t1]]
         ELSE ARRAY[tag_words[1 + t1], tag_words[1 + (t1 + 1 + (h / 640) % 7) % 8]]
       END,
       1, created, least(now(), created + make_interval(secs => h2 % 86400))
FROM generate_series(1, @brands::bigint * @products::bigint) AS n,
     -- hashint8extended gives 64 pseudo-random bits; the mask keeps them positive.
     LATERAL (SELECT 1 + (n - 1) % @brands::int AS b, (n - 1) / @brands::int AS k,
                     hashint8extended(n, 1) & 9223372036854775807 AS h,
                     hashint8extended(n, 2) & 9223372036854775807 AS h2,
                     hashint8extended(n, 3) & 9223372036854775807 AS h3) AS hashes,
     LATERAL (SELECT
       (ARRAY['Classic', 'Modern', 'Rustic', 'Vintage', 'Compact', 'Deluxe', 'Slim', 'Sturdy',
              'Minimal', 'Nordic', 'Industrial'])[1 + h3 % 11] AS finish,
       (ARRAY['Brass', 'Oak', 'Walnut', 'Steel', 'Copper', 'Marble', 'Linen', 'Wool', 'Leather',
              'Ceramic', 'Glass', 'Bamboo', 'Cotton', 'Concrete', 'Aluminium', 'Cedar', 'Silk',
              'Velvet', 'Rattan', 'Slate', 'Pine', 'Birch', 'Bronze', 'Teak', 'Cork', 'Jute',
              'Porcelain', 'Granite', 'Maple', 'Terracotta'])[1 + (h3 / 11) % 30] AS material,
       (ARRAY['Lamp', 'Chair', 'Table', 'Vase', 'Mirror', 'Shelf', 'Stool', 'Bowl', 'Clock',
              'Candle Holder', 'Rug', 'Cabinet', 'Desk', 'Planter', 'Tray', 'Frame', 'Basket',
              'Sofa', 'Pendant Light', 'Sideboard', 'Coat Rack', 'Bookcase', 'Ottoman'])[1 + (h3 / 330) % 23] AS item,
       (ARRAY['Aurora', 'Zephyr', 'Solstice', 'Meridian', 'Halcyon', 'Ember', 'Tundra', 'Lagoon',
              'Sierra', 'Monsoon', 'Orchid', 'Juniper', 'Nebula', 'Sonnet', 'Fjord', 'Mistral',
              'Canyon', 'Harbor', 'Cascade', 'Equinox'])[1 + (h3 / 7590) % 20] AS collection,
       (ARRAY['black', 'white', 'natural', 'grey', 'green', 'blue', 'red', 'sand'])[1 + (h3 / 151800) % 8] AS color,
       ARRAY['bestseller', 'new', 'sale', 'eco', 'handmade', 'limited', 'gift', 'outdoor'] AS tag_words,
       (h / 80) % 8 AS t1,
       now() - interval '730 days' + make_interval(secs => h2 % (730 * 86400)) AS created) AS words;
