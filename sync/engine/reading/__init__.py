"""The sync's reads, by what they read: the run's context (:mod:`.context`: recorded remote ids,
the state view), our identities on the services (:mod:`.identity`), the actions channel's
item messages and threads (:mod:`.messages`) and a whole run's remote reads
(:mod:`.changes`). The one real-time read, :func:`sync.engine.read.read_item`, and the names
the rest of the code imports stay in :mod:`sync.engine.read`."""
