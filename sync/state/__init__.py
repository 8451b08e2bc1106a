"""The local state store: one SQLite file per alliance, its schema, rows, journal and lock."""

# The schema's version, here rather than in ``schema`` so that ``mcm-sync --version`` can say it
# without importing SQLAlchemy; ``schema`` checks that its migrations reach exactly this one.
SCHEMA_VERSION = 9
