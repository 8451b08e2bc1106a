"""``mcm-sync doctor``: read-only checks of the three services before going live.

:mod:`sync.doctor.report` holds the result (one line per check: ok / warn / fail, with the fix
in plain words) and :mod:`sync.doctor.checks` the checks themselves, over the connectors'
interfaces only, so they run the same on the sandbox and on the real services.
"""
