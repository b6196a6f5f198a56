"""Code the three calsync services share: config, logging, database, messaging, outbox, HTTP, clock.

Nothing here knows about a particular service; each service composes these pieces in its own
``app.py`` (the composition root).
"""
