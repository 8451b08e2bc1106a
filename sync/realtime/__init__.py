"""Real time below the library face: the queued deliveries of one alliance, processed.

:mod:`sync.realtime.process` turns a batch of deliveries into the engine's plan per item
(read through :func:`sync.engine.read.read_item`) and drains a queue; :mod:`sync.realtime.lane`
defers the thread notes so that no item's visible change waits behind another item's notes;
:mod:`sync.realtime.consent` files Mailchimp's posts in the stakeholder database. Used by
:meth:`sync.api.Alliance.work`, which both ``mcm-sync serve`` and ``mcm-sync worker`` run;
:mod:`sync.realtime.hosted` types that turn (what the workers and ``serve``, on the floors
above, use of an alliance, and the factory they are handed). It sits below ``fleet``,
``serve`` and ``api`` and knows nothing of HTTP (that is :mod:`sync.serve`).
"""
