"""Trello: the connector on py-trello, its call path and reads, and the wire format."""
