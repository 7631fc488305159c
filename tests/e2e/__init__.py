"""Whole systems: real headless Chromium (``browser``), gunicorn workers and
load (``e2e``, ``stress``), and the examples run as apps. Marked so that a
run can pick them (``-m browser``) or leave them out (``-m "not e2e"``); the
README's test command runs them all.
"""
