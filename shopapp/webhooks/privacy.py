"""What a feature owes Shopify's privacy requests: the `Redaction` hook the compliance topics call.

Shopify sends `customers/data_request`, `customers/redact` and `shop/redact` (shopify.dev, "Privacy law
compliance"); an app must report or erase what it holds. The engine erases what it owns itself (stored
webhook payloads, jobs, the shop row and its tokens, live events); each feature that keeps data of a shop
or a customer registers a `Redaction` for its models:

    from shopapp import Customer, Redaction, redaction

    @redaction(Order)
    class OrdersRedaction(Redaction):
        def customer_data(self, session, shop, customer): ...   # ids and counts, never the data itself
        def redact_customer(self, session, shop, customer): ... # delete or blank the customer's rows
        def redact_shop(self, session, shop): ...               # delete every row of the shop

Each method works in the compliance job's session (committed with the job) and returns a dict of ids and
counts that is merged into the request's record. A test fails for a model with a `shop_domain` column
that no redaction names.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy.orm import Session

from shopapp.jobs import registry

HOOK = "redaction"


@dataclass
class Customer:
    """The customer a request is about: Shopify's ids, and the order ids known to belong to them.

    `order_ids` starts with the payload's `orders_requested`/`orders_to_redact`; `customer_data` adds the
    ids of orders the app holds for the customer, so stored order payloads among them are redacted too.
    """

    id: Optional[int]
    email: Optional[str]
    order_ids: set[int] = field(default_factory=set)


class Redaction:
    """A feature's part in the privacy requests; every method defaults to holding nothing."""

    #: The models whose rows these hooks report and erase (checked against every model with shop data).
    models: tuple[type, ...] = ()

    def customer_data(self, session: Session, shop: str, customer: Customer) -> dict:
        """customers/data_request: what this feature holds about `customer` (ids and counts only)."""
        return {}

    def redact_customer(self, session: Session, shop: str, customer: Customer) -> dict:
        """customers/redact: erase `customer`'s data; returns counts."""
        return {}

    def redact_shop(self, session: Session, shop: str) -> dict:
        """shop/redact (48 h after uninstall): erase everything of `shop`; returns counts."""
        return {}


def redaction(*models: type) -> Callable[[type[Redaction]], type[Redaction]]:
    """Class decorator: register one instance of a `Redaction` subclass, covering `models`."""
    def register(cls: type[Redaction]) -> type[Redaction]:
        instance = cls()
        instance.models = tuple(models)
        registry.add_hook(HOOK, instance)
        return cls
    return register


def redactions() -> list[Redaction]:
    """Every registered Redaction, in registration order."""
    return registry.hooks(HOOK)
