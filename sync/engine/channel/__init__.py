"""How the sync reads the actions channel when Slack holds the app to few history calls."""
