"""Every Redis key and channel name, built in one place (never inline)."""
from __future__ import annotations

PREFIX = "shopapp"


def shop_events_channel(shop: str) -> str:
    """Pub/sub channel carrying a shop's job events."""
    return f"{PREFIX}:shop:{shop}:events"


def all_events_pattern() -> str:
    """Pattern matching every shop's events channel (one subscription per web process)."""
    return f"{PREFIX}:shop:*:events"


def shop_event_log(shop: str) -> str:
    """Bounded per-shop log of recent job events, for replay with `since`."""
    return f"{PREFIX}:shop:{shop}:eventlog"


def shop_event_seq(shop: str) -> str:
    """Per-shop event sequence counter."""
    return f"{PREFIX}:shop:{shop}:seq"


def shop_job_versions(shop: str) -> str:
    """Hash job id -> last published version (publishing is idempotent)."""
    return f"{PREFIX}:shop:{shop}:jobversions"


def shop_control_channel() -> str:
    """Channel for control messages to every web process (e.g. close a shop's sockets on uninstall)."""
    return f"{PREFIX}:control"


def shop_token_lock(shop: str) -> str:
    """Lock held while a shop's offline token is refreshed or exchanged."""
    return f"{PREFIX}:shop:{shop}:token-lock"


def shop_api_budget(shop: str) -> str:
    """Shared per-shop Admin API request budget."""
    return f"{PREFIX}:shop:{shop}:api-budget"


def oauth_state_used(nonce: str) -> str:
    """An OAuth state nonce a callback has used (kept until the state would have expired)."""
    return f"{PREFIX}:oauth-state-used:{nonce}"


def shop_reconcile_lock(shop: str) -> str:
    """Lock held while a shop's reconcile runs (one at a time across machines)."""
    return f"{PREFIX}:shop:{shop}:reconcile-lock"


def sweeper_lock() -> str:
    """Lock so that one sweeper runs at a time across workers."""
    return f"{PREFIX}:sweeper-lock"
