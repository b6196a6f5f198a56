"""Refresh, keep-alive and circuit-breaker settings from the environment (AuthConfig.refresh)."""

from __future__ import annotations

from services.auth.domain import RefreshSettings
from shared.config import Env


def refresh_settings_from_env(env: Env) -> RefreshSettings:
    d = RefreshSettings()
    return RefreshSettings(
        lead=env.number("REFRESH_LEAD_SECONDS", d.lead, minimum=1),
        jitter=env.number("REFRESH_JITTER_SECONDS", d.jitter),
        min_validity=env.number("TOKEN_MIN_VALIDITY_SECONDS", d.min_validity),
        active_window=env.number("REFRESH_ACTIVE_WINDOW_SECONDS", d.active_window, minimum=1),
        keepalive=env.number("REFRESH_KEEPALIVE_SECONDS", d.keepalive, minimum=60),
        expiring_notice=env.number("GRANT_EXPIRING_NOTICE_SECONDS", d.expiring_notice),
        retry_base=env.number("REFRESH_RETRY_BASE_SECONDS", d.retry_base, minimum=0.01),
        retry_max=env.number("REFRESH_RETRY_MAX_SECONDS", d.retry_max, minimum=0.01),
        breaker_window=env.number("BREAKER_WINDOW_SECONDS", d.breaker_window, minimum=1),
        breaker_min_dead=env.integer("BREAKER_MIN_DEAD", d.breaker_min_dead, minimum=1),
        breaker_share=env.number("BREAKER_SHARE", d.breaker_share),
        poll_interval=env.number("REFRESH_POLL_INTERVAL", d.poll_interval, minimum=0.01),
        batch_size=env.integer("REFRESH_BATCH_SIZE", d.batch_size, minimum=1),
        concurrency=env.integer("REFRESH_CONCURRENCY", d.concurrency, minimum=1),
        claim_lease=env.number("REFRESH_CLAIM_LEASE_SECONDS", d.claim_lease, minimum=1),
        http_timeout=env.number("GOOGLE_HTTP_TIMEOUT_SECONDS", d.http_timeout, minimum=0.1),
        lock_wait=env.number("REFRESH_LOCK_WAIT_SECONDS", d.lock_wait, minimum=0.01),
    )
