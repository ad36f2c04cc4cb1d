"""The Admin GraphQL client: API version from config, cost-based throttling, retries on 429 and 5xx,
a refresh on 401, cursor pagination, and a per-shop request budget shared by every worker."""
from __future__ import annotations

import threading
import time

import pytest

from shopapp import crypto
from shopapp.shopify import admin_api
from shopapp.shopify.admin_api import AdminClient
from shopapp.shopify.errors import AdminApiError, ReauthorizationRequiredError
from shopapp.shopify.offline_tokens import OfflineTokens
from shopapp.shopify.request_budget import RequestBudget
from shopapp.shopify.transport import AdminOriginTransport, shopify_http_client
from tests.support.shop_tokens import install_shop, stored

SHOP = "api-shop.myshopify.com"
SHOP_QUERY = "query { shop { name myshopifyDomain } }"
PRODUCTS = "query P($first: Int!, $after: String) { products(first: $first, after: $after) { " \
           "nodes { id title } pageInfo { hasNextPage endCursor } } }"


@pytest.fixture
def shopify_config(config, fake_shopify):
    crypto.configure(config.ENCRYPTION_KEYS)
    return config.with_overrides(SHOPIFY_ADMIN_ORIGIN=fake_shopify.url, SHOPIFY_API_VERSION="2026-01",
                                 SHOPIFY_API_BUDGET_PER_SECOND=0)


class Sleeps:
    """Records every wait the client asks for; really sleeps unless `real=False`."""

    def __init__(self, real: bool = True):
        self.real, self.calls = real, []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def make_client(shopify_config, db, redis, fake_shopify):
    opened = []

    def make(sleep=None, config=None, shop=SHOP, redis_client=None) -> AdminClient:
        config = config or shopify_config
        http = shopify_http_client(config)
        opened.append(http)
        tokens = OfflineTokens(config, db, redis_client or redis, http_client=http)
        sleep = sleep or Sleeps()
        budget = RequestBudget(redis_client or redis, config.SHOPIFY_API_BUDGET_PER_SECOND, sleep=sleep)
        return AdminClient(config, tokens, budget, shop, http, sleep=sleep)
    yield make
    for http in opened:
        http.close()


@pytest.fixture
def installed(db, fake_shopify):
    return install_shop(db, fake_shopify, SHOP)


def test_a_query_goes_to_the_shop_with_the_configured_api_version(make_client, installed, fake_shopify):
    data = make_client().query(SHOP_QUERY)
    assert data == {"shop": {"name": "api-shop", "myshopifyDomain": SHOP}}
    [request] = fake_shopify.requests_of("graphql")
    assert request["shop"] == SHOP and request["version"] == "2026-01"


def test_the_origin_setting_routes_shopify_calls_and_is_off_by_default(shopify_config, fake_shopify):
    with shopify_http_client(shopify_config.with_overrides(SHOPIFY_ADMIN_ORIGIN="")) as plain:
        assert not isinstance(plain._transport, AdminOriginTransport)
    with shopify_http_client(shopify_config) as routed:
        assert isinstance(routed._transport, AdminOriginTransport)
        answer = routed.post(f"https://{SHOP}/admin/api/2026-01/graphql.json", json={"query": SHOP_QUERY})
    assert answer.status_code == 401  # reached the stand-in, as that shop, without a token
    assert fake_shopify.requests_of("graphql")[0]["shop"] == SHOP


def test_throttled_waits_until_enough_points_are_restored_then_retries(make_client, installed, fake_shopify):
    fake_shopify.set_bucket(SHOP, available=0, maximum=100, restore_rate=50)
    sleeps = Sleeps()
    nodes = next(make_client(sleep=sleeps).paginate(PRODUCTS, "products", page_size=10))
    assert nodes == []  # no products; what matters is how it got there
    assert fake_shopify.count("graphql:throttled") == 1
    assert fake_shopify.count("graphql") == 2
    # requestedQueryCost 12, currentlyAvailable 0, restoreRate 50 -> about 12/50 s
    assert len(sleeps.calls) == 1 and 0.1 < sleeps.calls[0] <= 12 / 50 + 0.01


def test_a_low_bucket_delays_the_next_request_instead_of_being_throttled(make_client, installed, fake_shopify):
    fake_shopify.add_products(SHOP, 30)
    fake_shopify.set_bucket(SHOP, available=13, maximum=20, restore_rate=10)
    sleeps = Sleeps()
    pages = list(make_client(sleep=sleeps).paginate(PRODUCTS, "products", page_size=10))
    assert [len(p) for p in pages] == [10, 10, 10]
    assert fake_shopify.count("graphql:throttled") == 0
    assert sleeps.calls and all(s > 0.5 for s in sleeps.calls)


@pytest.mark.parametrize("retry_after", ["0.3", "1"])
def test_429_waits_retry_after_then_retries(make_client, installed, fake_shopify, retry_after):
    fake_shopify.fail("graphql", 429, {"errors": "Exceeded 2 calls per second for api client."},
                      {"Retry-After": retry_after})
    sleeps = Sleeps(real=False)
    assert make_client(sleep=sleeps).query(SHOP_QUERY)["shop"]["name"] == "api-shop"
    assert sleeps.calls == [float(retry_after)]
    assert fake_shopify.count("graphql") == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_and_retries(make_client, installed, fake_shopify, status):
    fake_shopify.fail("graphql", status, {"errors": "Internal error"}, times=2)
    sleeps = Sleeps(real=False)
    assert make_client(sleep=sleeps).query(SHOP_QUERY)["shop"]
    assert fake_shopify.count("graphql") == 3
    assert len(sleeps.calls) == 2 and sleeps.calls[1] > sleeps.calls[0] * 0.5 > 0


def test_a_persisting_5xx_gives_up_with_a_retryable_error(make_client, installed, fake_shopify):
    fake_shopify.fail("graphql", 503, times=100)
    with pytest.raises(AdminApiError) as raised:
        make_client(sleep=Sleeps(real=False)).query(SHOP_QUERY)
    assert raised.value.retryable and raised.value.status == 503
    assert fake_shopify.count("graphql") == admin_api.MAX_RETRIES + 1


def test_an_unreachable_shopify_is_retried_then_a_retryable_error(make_client, installed, shopify_config):
    client = make_client(sleep=Sleeps(real=False),
                         config=shopify_config.with_overrides(SHOPIFY_ADMIN_ORIGIN="http://127.0.0.1:9"))
    with pytest.raises(AdminApiError) as raised:
        client.query(SHOP_QUERY)
    assert raised.value.retryable


def test_a_graphql_error_is_not_retried(make_client, installed, fake_shopify):
    fake_shopify.fail("graphql", 200, {"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]})
    with pytest.raises(AdminApiError) as raised:
        make_client().query("query { shop { nope } }")
    assert not raised.value.retryable and "nope" in str(raised.value)
    assert fake_shopify.count("graphql") == 1


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_client_error_is_not_retried(make_client, installed, fake_shopify, status):
    fake_shopify.fail("graphql", status, {"errors": "Nope"})
    with pytest.raises(AdminApiError) as raised:
        make_client().query(SHOP_QUERY)
    assert raised.value.status == status and not raised.value.retryable
    assert fake_shopify.count("graphql") == 1


def test_a_401_refreshes_the_token_once_and_retries(make_client, installed, fake_shopify, db):
    fake_shopify.expire_access_tokens(SHOP)  # Shopify expired it earlier than we expected
    assert make_client().query(SHOP_QUERY)["shop"]
    assert fake_shopify.count("refresh_token") == 1
    assert fake_shopify.count("graphql") == 2
    assert stored(db, SHOP).access_token != installed.access_token


def test_a_401_after_a_refresh_flags_the_shop_for_reauthorization(make_client, installed, fake_shopify, db):
    fake_shopify.fail("graphql", 401, {"errors": "[API] Invalid API key or access token"}, times=2)
    with pytest.raises(ReauthorizationRequiredError):
        make_client().query(SHOP_QUERY)
    assert fake_shopify.count("refresh_token") == 1
    assert stored(db, SHOP).needs_reauth is True


def test_a_shop_needing_reauthorization_sends_nothing(make_client, installed, fake_shopify, db):
    fake_shopify.revoke(SHOP)
    fake_shopify.expire_access_tokens(SHOP)
    with pytest.raises(ReauthorizationRequiredError):
        make_client().query(SHOP_QUERY)
    sent = fake_shopify.count("graphql")
    with pytest.raises(ReauthorizationRequiredError):
        make_client().query(SHOP_QUERY)
    assert fake_shopify.count("graphql") == sent


def test_pagination_follows_cursors_to_the_last_page(make_client, installed, fake_shopify):
    fake_shopify.add_products(SHOP, 23)
    pages = list(make_client().paginate(PRODUCTS, "products", page_size=10))
    assert [len(p) for p in pages] == [10, 10, 3]
    ids = [node["id"] for page in pages for node in page]
    assert ids == [f"gid://shopify/Product/{1000 + i}" for i in range(23)]
    assert fake_shopify.count("graphql") == 3


def test_the_request_budget_is_shared_by_every_worker(make_client, installed, fake_shopify, shopify_config,
                                                      redis_url):
    import redis as redis_lib

    config = shopify_config.with_overrides(SHOPIFY_API_BUDGET_PER_SECOND=5)
    clients, errors = [], []
    for _ in range(3):  # three "workers", each with its own Redis connection
        connection = redis_lib.Redis.from_url(redis_url)
        clients.append((connection, make_client(config=config, redis_client=connection)))
    barrier = threading.Barrier(3)

    def work(client):
        barrier.wait()
        try:
            for _ in range(4):
                client.query(SHOP_QUERY)
        except Exception as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for _, c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for connection, _ in clients:
        connection.close()
    assert errors == []
    arrivals = sorted(r["at"] for r in fake_shopify.requests_of("graphql"))
    assert len(arrivals) == 12
    # 5 a second for the shop as a whole (plus slack for network jitter), not 5 per worker.
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 7


def test_the_budget_is_per_shop(redis):
    budget = RequestBudget(redis, 1)
    assert budget.try_acquire("a.myshopify.com") == 0
    assert budget.try_acquire("a.myshopify.com") > 0
    assert budget.try_acquire("b.myshopify.com") == 0
