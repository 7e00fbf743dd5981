"""Auto-buy rules: the rules (`rules`), the record of each firing (`executions`), the buy with
its guards (`buying`), the price triggers (`triggers`) and the dry run (`evaluation`)."""
