"""The sync engine: read both sides, decide per item (pure), apply the decisions with a journal."""
