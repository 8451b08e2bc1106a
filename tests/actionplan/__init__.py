"""Tests of ``sync/actionplan``: the alliance's playbook on its calendar, kept between runs."""
