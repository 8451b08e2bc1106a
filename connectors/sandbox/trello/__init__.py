"""The Trello REST API emulator: ``emulator`` (routes, auth, limits) and its handler mixins.

``boards``, ``cards``, ``items``, ``fields``, ``members`` and ``webhooks`` hold the handlers;
``model`` the stored documents and their JSON shapes.
"""
