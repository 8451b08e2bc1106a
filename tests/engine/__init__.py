"""The sync engine: decisions, the state machine, crash points, the sync end to end."""
