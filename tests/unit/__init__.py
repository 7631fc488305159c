"""The pure rule and the reference model.

``test_rule.py`` runs the production rule (``aiohttp_flashbag._rule``) on
plain data; ``test_stateful.py`` and ``test_redis_model.py`` drive random
requests of several visitors against the one reference model of
docs/lifecycle.rst (``tests/support/model.py``), on the session and on the
Redis flash store.
"""
