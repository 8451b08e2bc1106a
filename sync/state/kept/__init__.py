"""What the state store keeps of its reads: within a run under the lock, and from one run of a
long-running worker to the next while the store's write stamp says nobody wrote it since."""
