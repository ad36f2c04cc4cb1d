"""app/uninstalled: the shop removed the app. Mark it uninstalled, delete its tokens, close its sockets.

Idempotent (a redelivery finds the shop already uninstalled) and fine for a shop we never stored.
A delivery triggered before the shop's latest install is stale and ignored (the merchant reinstalled).
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from shopapp.events.control import notify_shop_uninstalled
from shopapp.jobs.context import JobContext
from shopapp.jobs.registry import webhook_handler
from shopapp.models import Shop, utcnow
from shopapp.redis_client import get_redis


@webhook_handler("app/uninstalled")
def uninstall_shop(ctx: JobContext) -> Optional[str]:
    """Mark the shop uninstalled and forget its tokens; after commit, ask web processes to close its sockets."""
    shop = ctx.session.scalars(select(Shop).where(Shop.domain == ctx.shop).with_for_update()).first()
    if shop is not None and shop.installed and shop.installed_at and ctx.triggered_at \
            and ctx.triggered_at < shop.installed_at:
        return ctx.ignore("stale delivery ignored: the shop reinstalled the app after this uninstall")
    ctx.after_commit(lambda: notify_shop_uninstalled(get_redis(ctx.app), ctx.shop))
    if shop is None:
        return "shop was not installed here; nothing to remove"
    had_tokens = bool(shop.access_token or shop.refresh_token)
    was_installed = shop.installed
    shop.installed = False
    shop.uninstalled_at = shop.uninstalled_at if not was_installed and shop.uninstalled_at else utcnow()
    shop.access_token = None
    shop.access_token_expires_at = None
    shop.refresh_token = None
    shop.refresh_token_expires_at = None
    if not was_installed and not had_tokens:
        return "shop already uninstalled"
    return "shop uninstalled; tokens deleted"
