"""Workers for many alliances on one PostgreSQL."""
