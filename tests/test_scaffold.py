"""`python -m shopapp new webhook TOPIC` and `new job KIND`, run in a copy of the checkout as a developer would:
the generated tests pass as generated, lint and `webhooks check` pass, a real delivery runs the new handler,
and the new kind starts from POST /api/jobs."""
from __future__ import annotations

import difflib
import hashlib
import json

import pytest
import requests

from shopapp.testing import API_KEY, API_SECRET, ENCRYPTION_KEY, SHOP, build_session_token, wait_until
from tests.support.checkout import ROOT, checkout_env, copy_checkout, run_in
from tests.support.processes import WebServer, WorkerProcess

pytestmark = [pytest.mark.slow, pytest.mark.nodb]

PY = ".venv/bin/python"
SCAFFOLDS = ("new webhook customers/update", "new webhook orders/paid", "new job export_orders")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the checkout after the three scaffolds, with the environment to run its commands."""
    root = tmp_path_factory.mktemp("scaffold")
    checkout = copy_checkout(root / "app")
    env = checkout_env(root / "instance", SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
                       SHOPAPP_ENCRYPTION_KEY=ENCRYPTION_KEY)
    outputs = {}
    for command in SCAFFOLDS:
        result = run_in(checkout, f"{PY} -m shopapp {command}", env)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs[command] = result.stdout
    return checkout, env, outputs


def test_the_generated_tests_pass_as_generated(project):
    checkout, env, _ = project
    result = run_in(checkout, f"{PY} -m pytest -q -p no:cacheprovider tests/features", env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "6 passed" in result.stdout


def test_generated_code_passes_the_projects_lint(project):
    checkout, env, _ = project
    result = run_in(checkout, ".venv/bin/ruff check . && .venv/bin/lint-imports", env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_webhooks_check_passes_after_the_scaffolds(project):
    checkout, env, _ = project
    result = run_in(checkout, f"{PY} -m shopapp webhooks check", env)
    assert result.returncode == 0, result.stdout + result.stderr
    table = dict(line.split()[:2] for line in result.stdout.splitlines()[1:] if "/" in line.split()[0])
    assert table["customers/update"] == "shopapp.features.customers.customers_update.handle_customers_update"
    assert table["orders/paid"] == "shopapp.features.orders.orders_paid.handle_orders_paid"


def test_the_subscriptions_are_added_keeping_the_files_comments_and_order(project):
    checkout, _, _ = project
    before = (ROOT / "shopify.app.toml").read_text().splitlines()
    after = (checkout / "shopify.app.toml").read_text().splitlines()
    diff = [line for line in difflib.ndiff(before, after) if line[:1] in "+-"]
    assert [line for line in diff if line.startswith("-")] == []
    assert [line[2:] for line in diff] == [
        "# handled by shopapp/features/customers/customers_update.py", "[[webhooks.subscriptions]]",
        'topics = ["customers/update"]', 'uri = "/webhooks"', "",
        "# handled by shopapp/features/orders/orders_paid.py", "[[webhooks.subscriptions]]",
        'topics = ["orders/paid"]', 'uri = "/webhooks"', ""]


def test_a_known_resource_gets_a_copy_of_its_sample_and_an_unknown_one_a_skeleton(project):
    checkout, _, _ = project
    orders = checkout / "shopapp/features/orders/samples"
    assert (orders / "orders_paid.json").read_text() == (orders / "orders_create.json").read_text()
    skeleton = json.loads((checkout / "shopapp/features/customers/samples/customers_update.json").read_text())
    assert sorted(skeleton) == ["admin_graphql_api_id", "id", "updated_at"]
    assert skeleton["admin_graphql_api_id"] == f"gid://shopify/Customer/{skeleton['id']}"


def test_a_handler_whose_sample_has_updated_at_is_ordered_by_it(project):
    checkout, _, _ = project
    handler = (checkout / "shopapp/features/customers/customers_update.py").read_text()
    assert '@webhook_handler("customers/update", ordered_by="updated_at")' in handler


def test_an_existing_feature_gets_a_new_module_its_package_imports(project):
    checkout, _, outputs = project
    init = (checkout / "shopapp/features/orders/__init__.py").read_text()
    assert "orders_paid" in init and "handlers" in init and "redaction" in init
    assert "wrote shopapp/features/orders/orders_paid.py" in outputs["new webhook orders/paid"]


def test_a_real_delivery_runs_the_new_handler_and_the_new_kind_starts_from_the_api(project, redis_server, tmp_path):
    checkout, env, _ = project
    env = dict(env, REDIS_URL=redis_server.url, DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
               LOG_LEVEL="WARNING", SWEEP_INTERVAL_SECONDS="1")
    assert run_in(checkout, f"{PY} -m shopapp db upgrade", env).returncode == 0
    web = WebServer(env, tmp_path / "web.log", cwd=checkout).start()
    worker = WorkerProcess(env, tmp_path / "worker.log", cwd=checkout).start()
    try:
        trigger = run_in(checkout, f"{PY} -m shopapp webhook trigger customers/update --shop {SHOP} "
                                   f"--webhook-id scaffold-1 --address {web.url}/webhooks", env)
        assert trigger.returncode == 0, trigger.stdout + trigger.stderr
        headers = {"Authorization": f"Bearer {build_session_token(API_KEY, API_SECRET, shop=SHOP)}"}
        started = requests.post(f"{web.url}/api/jobs", json={"kind": "export_orders"}, headers=headers, timeout=10)
        assert started.status_code == 202, started.text

        def finished() -> dict:
            jobs = requests.get(f"{web.url}/api/jobs", headers=headers, timeout=10).json()["jobs"]
            done = {job["kind"]: job for job in jobs if job["state"] == "succeeded"}
            return done if {"webhook", "export_orders"} <= set(done) else {}
        jobs = wait_until(finished, timeout=60, what="both jobs succeeded",
                          explain=lambda: worker.output()[-2000:])
    finally:
        web.stop()
        worker.stop()
    assert (jobs["webhook"]["webhook_id"], jobs["webhook"]["message"]) == (
        "scaffold-1", "customers/update 1234567890 received")
    assert jobs["export_orders"]["id"] == started.json()["id"]
    assert (jobs["export_orders"]["message"], jobs["export_orders"]["progress"]) == ("10 of 10 done", 100)


def _tree(checkout) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for folder in ("shopapp", "tests") for p in (checkout / folder).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(checkout).as_posix().encode() + path.read_bytes())
    return digest.hexdigest() + hashlib.sha256((checkout / "shopify.app.toml").read_bytes()).hexdigest()


@pytest.mark.parametrize("command, reason", [
    ("new webhook customers/update", "customers/update is already handled by "
                                     "shopapp.features.customers.customers_update.handle_customers_update"),
    ("new webhook app/uninstalled", "app/uninstalled is already handled by shopapp.webhooks.lifecycle"),
    ("new webhook shop/redact", "shop/redact is already handled by shopapp.webhooks.compliance"),
    ("new webhook Orders/Paid", "'Orders/Paid' is not a topic name: use the resource/event form"),
    ("new webhook orders", "'orders' is not a topic name: use the resource/event form"),
    ("new webhook orders/paid/now", "'orders/paid/now' is not a topic name"),
    ("new webhook customer.tags_added", "'customer.tags_added' is not a topic name"),
    ("new webhook orders/shipped", "'orders/shipped' is not a Shopify webhook topic in API version 2026-10"),
    ("new webhook carts/create --feature Carts", "'Carts' is not a feature name"),
    ("new job export_orders", "job kind 'export_orders' already exists"),
    ("new job sync_products", "job kind 'sync_products' already exists"),
    ("new job webhook", "job kind 'webhook' already exists"),
    ("new job export-orders", "'export-orders' is not a job kind: use a lowercase Python identifier"),
    ("new job 9lives", "'9lives' is not a job kind"),
    ("new job class", "'class' is not a job kind"),
    ("new job " + "x" * 51, "is not a job kind: use a lowercase Python identifier of at most 50 characters"),
])
def test_a_bad_or_existing_name_is_refused_with_one_line_and_nothing_written(project, command, reason):
    checkout, env, _ = project
    before = _tree(checkout)
    result = run_in(checkout, f"{PY} -m shopapp {command}", env)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert reason in result.stderr
    assert _tree(checkout) == before
