"""The Slack Web API emulator: ``emulator`` (methods, auth, envelope) and its parts.

``channels`` and ``messages`` hold the method handlers, ``workspace`` the stored channels and
messages, ``model`` ids and shapes, ``limits`` the rate-limit tiers and ``page`` its part of
the sandbox page.
"""
