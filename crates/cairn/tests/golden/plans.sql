-- The golden planner test's schema, data and queries (tests/pg/planner.rs). Statements up to
-- the line `-- queries` set up; after it, each statement is EXPLAINed and its plan recorded in
-- plans.out. Data is deterministic, so the statistics ANALYZE gathers are too.
CREATE TABLE region (id INT PRIMARY KEY, name TEXT);
CREATE TABLE customer (id INT PRIMARY KEY, region_id INT, segment TEXT);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, status TEXT, total INT);
CREATE TABLE item (order_id INT, line INT, product_id INT, qty INT, PRIMARY KEY (order_id, line));
CREATE TABLE product (id INT PRIMARY KEY, kind TEXT, price INT);
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO region SELECT g, 'region ' || g FROM (SELECT generate_series(1, 5) AS g) s;
INSERT INTO customer SELECT g, g % 5 + 1, CASE WHEN g % 10 = 0 THEN 'vip' ELSE 'std' END FROM (SELECT generate_series(1, 500) AS g) s;
INSERT INTO orders SELECT g, g % 500 + 1, CASE WHEN g % 50 = 0 THEN 'open' ELSE 'done' END, g % 97 FROM (SELECT generate_series(1, 5000) AS g) s;
INSERT INTO item SELECT g / 3 + 1, g % 3, g % 200 + 1, g % 7 FROM (SELECT generate_series(0, 14999) AS g) s;
INSERT INTO product SELECT g, CASE WHEN g % 20 = 0 THEN 'rare' ELSE 'common' END, g FROM (SELECT generate_series(1, 200) AS g) s;
ANALYZE;
-- queries
SELECT c.id, o.id FROM customer c JOIN orders o ON o.customer_id = c.id WHERE c.id = 7;
SELECT c.segment, count(*) FROM customer c, orders o WHERE o.customer_id = c.id GROUP BY c.segment;
SELECT r.name, o.total FROM orders o, customer c, region r WHERE o.customer_id = c.id AND c.region_id = r.id AND o.status = 'open';
SELECT o.id, p.price FROM item i, product p, orders o WHERE i.product_id = p.id AND i.order_id = o.id AND p.kind = 'rare' AND o.status = 'open';
SELECT count(*) FROM item i, orders o, customer c, region r, product p WHERE i.order_id = o.id AND o.customer_id = c.id AND c.region_id = r.id AND i.product_id = p.id AND r.id = 2 AND p.id = 10;
SELECT c.id, o.id FROM customer c LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'open';
SELECT a.id, b.id FROM customer a JOIN customer b ON a.id < b.id WHERE a.id = 3;
SELECT count(*) FROM region a, region b;
SELECT c.id, o.total FROM customer c LEFT JOIN orders o ON o.customer_id = c.id WHERE c.id < 4;
SELECT o.id, c.segment FROM orders o JOIN customer c ON c.id = o.customer_id WHERE o.id BETWEEN 10 AND 20;
SELECT i.qty FROM orders o, item i WHERE i.order_id = o.id AND o.customer_id = 42;
SELECT c.id FROM customer c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'open');
SELECT o.id FROM orders o WHERE o.total = 3 AND NOT EXISTS (SELECT 1 FROM item i WHERE i.order_id = o.id AND i.qty > 5);
SELECT o.id FROM orders o, customer c WHERE (o.customer_id = c.id AND c.segment = 'vip' AND o.total = 1) OR (o.customer_id = c.id AND o.status = 'open');
SELECT o.id, row_number() OVER (PARTITION BY o.customer_id ORDER BY o.total DESC) FROM orders o WHERE o.customer_id < 5;
SELECT c.id, o.total FROM customer c, LATERAL (SELECT total FROM orders WHERE orders.customer_id = c.id ORDER BY total DESC LIMIT 1) o WHERE c.id < 3;
