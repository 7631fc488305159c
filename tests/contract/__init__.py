"""The documented contract over real HTTP: one module per docs page.

``test_lifecycle.py`` holds docs/lifecycle.rst section by section, except the
sections with a page or a module of their own (writes, a streamed response,
speculative requests, sizes, bad input and faults, htmx, testing); the other
modules are named after their page in docs/ and group their tests under the
titles of that page's sections.
"""
