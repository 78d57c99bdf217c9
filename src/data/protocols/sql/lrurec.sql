-- reclm data protocol "lrurec": LRURec's preprocessing (datasets/base.py, datasets/ml_1m.py).
-- Runs unchanged in DuckDB and Spark SQL; reclm runs this very file on DuckDB (src/data/prepare.ts).
--
-- Input:  interactions(row_id BIGINT, user_id STRING, item_id STRING, ts DOUBLE)
--         row_id = the row's position in the log file, 0, 1, 2, ... with no gaps (step 1 reads the file order).
-- Output: kept(row_id, user_id, item_id, ts, protocol), the rows the protocol keeps. Then run split.sql.
--
-- 1. Immediate repeats: a row with the same (user, item) as the row just before it in the file is dropped
--    (pandas df.shift() in LRURec); a run of repeats keeps its first row.
-- 2. ONE pass of 5-core: items with < 5 rows go, then users with < 5 of the rows left. Not repeated until stable:
--    afterwards an item may have < 5 rows again, as in the published protocol.
DROP TABLE IF EXISTS kept;
CREATE TABLE kept AS
WITH no_repeats AS (
  SELECT a.row_id, a.user_id, a.item_id, a.ts
  FROM interactions a
  LEFT JOIN interactions b ON b.row_id = a.row_id - 1
  WHERE b.row_id IS NULL OR b.user_id <> a.user_id OR b.item_id <> a.item_id
),
popular_items AS (
  SELECT * FROM no_repeats
  WHERE item_id IN (SELECT item_id FROM no_repeats GROUP BY item_id HAVING COUNT(*) >= 5)
)
SELECT row_id, user_id, item_id, ts, 'lrurec' AS protocol
FROM popular_items
WHERE user_id IN (SELECT user_id FROM popular_items GROUP BY user_id HAVING COUNT(*) >= 5);
