"""The alliance's action plan as it stands: the playbook on its calendar, and its progress.

A room just above ``state`` (both modules read its rows) and below every domain room that shows
dates or figures (plenary, bootstrap, audience, documents, reports, engine), so they all read
one calendar (:mod:`sync.actionplan.calendar`) and one count (:mod:`sync.actionplan.progress`).
"""
