"""The Mailchimp Marketing API v3 emulator: ``emulator`` (routes, auth, limits) and its parts.

``lists``, ``members``, ``segments``, ``campaigns`` and ``batches`` hold the handlers;
``data`` the stored documents, ``models`` the request bodies and ``base`` the shared errors,
ids and paging.
"""
