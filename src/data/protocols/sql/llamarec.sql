-- reclm data protocol "llamarec": LlamaRec's preprocessing (datasets/base.py, ml_100k.py, beauty.py).
-- Runs unchanged in DuckDB and Spark SQL; reclm runs this very file on DuckDB (src/data/prepare.ts).
--
-- Input:  interactions(row_id BIGINT, user_id STRING, item_id STRING, ts DOUBLE) as for lrurec.sql, and
--         titled_items(item_id STRING): the items whose metadata has a non-empty title.
-- Output: kept(row_id, user_id, item_id, ts, protocol). Then run split.sql.
--
-- 1. Rows of items without a title are dropped.
-- 2. Iterative 5-core: items with < 5 rows go, then users with < 5 rows, and again until a round drops nothing. The
--    result is the unique largest 5-core, whatever the order of the rounds. No SQL loop runs in both DuckDB and Spark,
--    so one round sits between the "@loop" lines: run it until the count it ends with stops changing. reclm's driver
--    does that; on Spark, run the block from a driver loop (spark.sql per statement) or repeat it with spark-sql.
DROP TABLE IF EXISTS kept;
CREATE TABLE kept AS
SELECT row_id, user_id, item_id, ts, 'llamarec' AS protocol
FROM interactions
WHERE item_id IN (SELECT item_id FROM titled_items);
-- @loop begin
DROP TABLE IF EXISTS kept_next;
CREATE TABLE kept_next AS
WITH popular_items AS (
  SELECT * FROM kept
  WHERE item_id IN (SELECT item_id FROM kept GROUP BY item_id HAVING COUNT(*) >= 5)
)
SELECT * FROM popular_items
WHERE user_id IN (SELECT user_id FROM popular_items GROUP BY user_id HAVING COUNT(*) >= 5);
DROP TABLE kept;
ALTER TABLE kept_next RENAME TO kept;
SELECT COUNT(*) AS n FROM kept;
-- @loop end
