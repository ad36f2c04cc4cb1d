"""Websocket close codes of /ws/jobs (the contract's, plus the one for a client that fell behind)."""
from __future__ import annotations

GOING_AWAY = 1001           # the server is shutting down; reconnect (with since) to another process
MESSAGE_TOO_BIG = 1009      # a client message over WS_MAX_MESSAGE_BYTES
INTERNAL_ERROR = 1011       # a bug or an unexpected failure; reconnect with since
TRY_AGAIN_LATER = 1013      # fell behind (send queue full) or Redis unreachable: reconnect with since
UNAUTHORIZED = 4401         # missing, invalid or expired session token (after the grace period)
SHOP_UNINSTALLED = 4403     # the shop uninstalled the app
