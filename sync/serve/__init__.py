"""``mcm-sync serve``: real time through the vendors' webhooks and events.

:mod:`sync.serve.hooks` (the HTTP endpoints: verify, queue, acknowledge),
:mod:`sync.serve.verify` (signatures), :mod:`sync.serve.server` (waitress, and the worker
thread whose turns are the ``work()`` of the alliance it is handed (a
:class:`sync.realtime.hosted.HostedAlliance`; :mod:`sync.api.hosting` hands in
``sync.api.Alliance``): the drain of :mod:`sync.realtime` and
the backstop sync), :mod:`sync.serve.register` (webhooks and the sandbox's Slack app),
:mod:`sync.serve.socket_mode` (Slack without a public URL), :mod:`sync.serve.answers`
(``/alliance``). The durable queue is :mod:`sync.state.events`.

``serve --alliances DIR`` (many alliances, one URL): :mod:`sync.serve.routes` (which alliance
a delivery belongs to) and :mod:`sync.serve.front` (route, verify with the alliance's secrets,
store in its queue, wake the workers of :mod:`sync.fleet`, which process it).
"""
