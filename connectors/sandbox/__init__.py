"""Local emulators of the Trello, Slack and Mailchimp APIs, on one port (the "sandbox").

Start one with :class:`connectors.sandbox.server.SandboxServer` (in-process) or
``mcm-sync sandbox serve``; point the vendors' SDKs at it with the helpers in
:mod:`connectors.sandbox.testing`.
"""
