"""Open data: CSV files in the Digital Agency's 自治体標準オープンデータセット formats."""
