"""Connectors: one small interface per service (Trello, Slack, Mailchimp), one module per vendor."""
