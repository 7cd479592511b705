"""The local archive: managed file store and SQLite index."""
