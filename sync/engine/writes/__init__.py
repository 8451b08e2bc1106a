"""The effect layer's single writes: :mod:`.appends` (the calls of each write of an item's
rest, and the journalled appends: notes and copied comments)."""
