"""Many alliances, one service: the worker that runs every alliance's schedule, and its ledger.

``mcm-sync worker --alliances DIR`` loads one config per alliance from DIR and keeps each in
step (the sync, with its full reconciliations, digests and meeting reminders, is
``Alliance.sync``); several workers share one PostgreSQL database, each alliance synced by one
worker at a time (``sync.fleet.ledger``: advisory locks and a table of runs, no lock file).
The workers also process what ``serve --alliances`` stored in each alliance's queue, woken by
``NOTIFY`` on PostgreSQL (``sync.fleet.wake``).
"""
