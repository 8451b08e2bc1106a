"""Local emulators of the Trello, Slack and Mailchimp APIs, on one port (the "sandbox").

One sub-package per vendor (``trello``, ``slack``, ``mailchimp``), each an emulator that reads
as a unit, on a shared ``core`` (server, app, admin API, page, store, people, rate limits);
``clients`` points the vendors' own SDKs at a running sandbox.

Start one with :class:`connectors.sandbox.core.server.SandboxServer` (in-process) or
``mcm-sync sandbox serve``; point the vendors' SDKs at it with the helpers in
:mod:`connectors.sandbox.clients.testing`.
"""
