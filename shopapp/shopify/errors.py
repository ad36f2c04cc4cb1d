"""The exceptions of talking to Shopify, under one base, so callers can tell 'try later' from 'ask the merchant'."""
from __future__ import annotations

# What a merchant (and the job record) is told when Shopify no longer accepts our tokens for a shop.
REAUTH_MESSAGE = "The app lost access to this shop; open the app in Shopify admin to re-authorize"


class ShopifyError(Exception):
    """Base of every error raised while talking to Shopify."""


class TokenRequestError(ShopifyError):
    """The token endpoint could not be reached or answered an error that may pass (retry later)."""

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.code = code


class ReauthorizationRequiredError(ShopifyError):
    """Shopify refused our credentials for this shop for good: the merchant must open the app again."""

    def __init__(self, shop: str, reason: str):
        super().__init__(REAUTH_MESSAGE)
        self.shop = shop
        self.reason = reason  # a short code for logs: invalid_subject_token, invalid_grant, ...


class AdminApiError(ShopifyError):
    """The Admin API answered an error that retrying will not fix (or retries ran out)."""

    def __init__(self, message: str, status: int | None = None, errors: list | None = None,
                 retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.errors = errors or []
        self.retryable = retryable  # True when retries ran out on a passing fault (429, 5xx, THROTTLED)
