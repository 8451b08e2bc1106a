"""Many alliances, one service: the workers that run every alliance's schedule.

``mcm-sync worker --alliances DIR`` loads one config per alliance from DIR and keeps each in
step (the sync, with its full reconciliations, digests and meeting reminders, is the
``work()`` of each alliance, made by the factory :mod:`sync.api.hosting` hands in). Several
workers share one PostgreSQL database through a job engine,
procrastinate (:mod:`sync.fleet.jobs`): one job per alliance run, one run per alliance at a
time, deliveries from ``serve --alliances`` deferred as drains, retries and stalled jobs the
engine's. Alone on SQLite a worker runs the same task function in-process
(:mod:`sync.fleet.worker`; its folder of alliances and their file stamps in
:mod:`sync.fleet.folder`, what runs ended in in :mod:`sync.fleet.outcomes`; the engine's
pool in :mod:`sync.fleet.pool`);
:mod:`sync.fleet.status` is ``worker status``.
"""
