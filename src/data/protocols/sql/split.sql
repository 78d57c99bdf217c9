-- reclm's leave-one-out split, after any protocol file. Runs unchanged in DuckDB and Spark SQL; reclm runs this very
-- file on DuckDB (src/data/prepare.ts), and reads what a cluster wrote of `split` as Parquet (--split-dir).
--
-- Input:  kept(row_id, user_id, item_id, ts, protocol) from lrurec.sql, llamarec.sql or none.sql, and
--         tie_rank(item_id STRING, tie BIGINT): the order of items that share a timestamp in one history.
--           reclm's rule: under lrurec and llamarec, when every kept item id is a plain integer below 2^53, the
--           papers' order (LlamaRec/LRURec number items by enumerate(set(df['sid'])) and sort by (timestamp, that
--           number); reclm reproduces CPython's set order, src/data/protocols/python-set-order.ts); otherwise the
--           canonical item order (ascending id, numeric for integer ids). Without reclm at hand,
--             SELECT item_id, DENSE_RANK() OVER (ORDER BY item_id) AS tie FROM (SELECT DISTINCT item_id FROM kept) t
--           gives the canonical order for string ids.
-- Output: split(user_id, item_id, ts, pos, n, protocol): each user's rows by (ts, tie), pos = 1..n; pos n is the test
--         item, pos n - 1 the validation item, the rest is training. Users with < 3 rows are dropped (they could not
--         give a training, a validation and a test item).
DROP TABLE IF EXISTS split;
CREATE TABLE split AS
WITH sized AS (
  SELECT user_id, COUNT(*) AS n FROM kept GROUP BY user_id HAVING COUNT(*) >= 3
)
SELECT k.user_id, k.item_id, k.ts,
  ROW_NUMBER() OVER (PARTITION BY k.user_id ORDER BY k.ts, t.tie, k.row_id) AS pos,
  s.n, k.protocol
FROM kept k
JOIN sized s ON s.user_id = k.user_id
JOIN tie_rank t ON t.item_id = k.item_id;
