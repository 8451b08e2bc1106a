"""The sandbox's shared core: the HTTP server, the WSGI app and what every emulator builds on.

``server`` runs ``app``; ``app`` routes each request to a service emulator (subclass of
``service.ServiceEmulator``), the admin API (``admin``) or the HTML page (``page``), and keeps
the stats and armed faults of ``controls``. ``store`` persists every service's documents,
``people`` the persons they share, ``ratelimit`` holds the limiter building blocks and
``network`` the loopback rule. Nothing here knows a vendor.
"""
