"""The local state store: one SQLite file per alliance, its schema, rows, journal and lock."""
