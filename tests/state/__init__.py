"""The state store: migrations, the journal, the lock, the store's binding, going live."""
