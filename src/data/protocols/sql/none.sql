-- reclm data protocol "none": every row is kept (split.sql still drops users with < 3 rows).
-- Runs unchanged in DuckDB and Spark SQL; reclm runs this very file on DuckDB (src/data/prepare.ts).
--
-- Input:  interactions(row_id BIGINT, user_id STRING, item_id STRING, ts DOUBLE)
-- Output: kept(row_id, user_id, item_id, ts, protocol). Then run split.sql.
DROP TABLE IF EXISTS kept;
CREATE TABLE kept AS
SELECT row_id, user_id, item_id, ts, 'none' AS protocol FROM interactions;
