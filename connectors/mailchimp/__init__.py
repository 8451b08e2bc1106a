"""Mailchimp: the connector on mailchimp_marketing, its batch operations and answer shapes."""
