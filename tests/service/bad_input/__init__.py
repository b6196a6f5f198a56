"""Hostile input, generated with hypothesis, against each service running once per module.

Every property sends a batch of bad input (malformed or forged bus messages, forged OAuth callbacks
and security event tokens, hostile service-API requests), checks that each one is refused with a
clear 4xx or dead-lettered with a reason, and then checks that a good message or request is still
handled. Inbound Google push notifications (sync's webhook) have no endpoint yet: their property
goes in ``test_google_push.py`` once sync accepts them.
"""
