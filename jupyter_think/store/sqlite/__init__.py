"""The SQLite store (standard library ``sqlite3``): the store, its schema, repair and salvage."""
