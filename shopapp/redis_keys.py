"""Every Redis key and channel name, built in one place (never inline).

Per-shop names are `shopapp:shop:<shop domain>:<what>`; the rest are `shopapp:<what>`.
"""
from __future__ import annotations

from collections.abc import Callable

PREFIX = "shopapp"


def _per_shop(what: str, doc: str) -> Callable[[str], str]:
    def name(shop: str) -> str:
        return f"{PREFIX}:shop:{shop}:{what}"
    name.__doc__ = doc
    return name


shop_events_channel = _per_shop("events", "Pub/sub channel carrying a shop's job events.")
shop_event_log = _per_shop("eventlog", "Bounded per-shop log of recent job events, for replay with `since`.")
shop_event_seq = _per_shop("seq", "Per-shop event sequence counter.")
shop_token_lock = _per_shop("token-lock", "Lock held while a shop's offline token is refreshed or exchanged.")
shop_api_budget = _per_shop("api-budget", "Shared per-shop Admin API request budget.")
shop_reconcile_lock = _per_shop("reconcile-lock", "Lock held while a shop's reconcile runs (one at a time).")


# Job ids per version hash: a shop's versions are split by job id, so that a hash whose jobs stopped
# changing expires (events.publisher) instead of growing with every job the shop ever had.
JOB_VERSIONS_BUCKET = 10_000


def shop_job_versions(shop: str, job_id: int) -> str:
    """Hash job id -> last published version (publishing is idempotent), for the shop's jobs whose ids share
    `job_id // JOB_VERSIONS_BUCKET`."""
    return f"{PREFIX}:shop:{shop}:jobversions:{int(job_id) // JOB_VERSIONS_BUCKET}"


def shop_job_versions_pattern(shop: str) -> str:
    """Pattern matching every version hash of `shop` (a shop domain holds no glob character)."""
    return f"{PREFIX}:shop:{shop}:jobversions:*"


def all_events_pattern() -> str:
    """Pattern matching every shop's events channel (one subscription per web process)."""
    return shop_events_channel("*")


def shop_control_channel() -> str:
    """Channel for control messages to every web process (e.g. close a shop's sockets on uninstall)."""
    return f"{PREFIX}:control"


def oauth_state_used(nonce: str) -> str:
    """An OAuth state nonce a callback has used (kept until the state would have expired)."""
    return f"{PREFIX}:oauth-state-used:{nonce}"


def sweeper_lock() -> str:
    """Lock so that one sweeper runs at a time across workers."""
    return f"{PREFIX}:sweeper-lock"
