"""``mcm-sync doctor`` and the checks before going live."""
