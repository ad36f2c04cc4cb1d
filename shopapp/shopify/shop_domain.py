"""The one check of a shop domain taken from a request (webhook header, token, OAuth query)."""
from __future__ import annotations

import re

# Lower-case letters, digits and hyphens, not starting with a hyphen, then .myshopify.com.
_SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")


def is_valid_shop_domain(domain: str | None) -> bool:
    """True when `domain` is exactly a `*.myshopify.com` shop name."""
    return bool(domain) and bool(_SHOP_RE.match(domain))
