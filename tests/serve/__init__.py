"""Real time: ``mcm-sync serve`` and its front for many alliances."""
