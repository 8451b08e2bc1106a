"""Slack: the connector on slack_sdk's WebClient and the shapes of its answers."""
