"""The tests' one set of helpers: alliances on a private sandbox, the in-memory fakes of the
connectors, a real PostgreSQL server, fleets of alliances, and the shared pieces of scenarios."""
