"""Clients of a running sandbox: the vendors' own SDKs pointed at it, and a member using them.

``testing`` configures py-trello, slack_sdk and mailchimp_marketing for a sandbox (and offers
a controllable clock and the admin calls); ``members`` acts as an alliance member through them.
"""
