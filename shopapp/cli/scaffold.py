"""`python -m shopapp new webhook TOPIC` and `python -m shopapp new job KIND`: a handler or a merchant job
kind in a feature package (`shopapp/features/<name>/`), with a test that passes as generated.

`new webhook TOPIC [--feature NAME]` writes `<feature>/<resource>_<event>.py` (the handler, registered with
`ordered_by="updated_at"` when the sample has `updated_at`), `<feature>/samples/<resource>_<event>.json`
(copied from a sample of the same resource a loaded feature keeps, else a skeleton with `id`,
`admin_graphql_api_id` and `updated_at`), `tests/features/test_<resource>_<event>.py` (run_handler and a
signed delivery run by a real RQ worker), and the subscription in shopify.app.toml, labelled with the
handler's module. The feature defaults to the topic's resource (`customers/update` -> `customers`); an
existing feature gets a new module, imported by its `__init__.py`.

`new job KIND [--feature NAME]` writes `<feature>/<kind>.py` (progress reports, cancellation checks, a
timeout) and `tests/features/test_<kind>.py` (started by POST /api/jobs, run by a real RQ worker).

Both refuse, with one line and exit 2 and before writing anything: a topic that is not `resource/event`
or not a Shopify topic, a kind that is not a lowercase Python identifier, a topic or kind that already has
a handler, and a file that already exists.
"""
from __future__ import annotations

import json
import keyword
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Optional

import click

from shopapp.cli.app_toml import APP_TOML, AppTomlError, add_subscription, read_app_toml
from shopapp.cli.build import registry, settings
from shopapp.config import FEATURES_PACKAGE, ROOT
from shopapp.shopify.webhook_topics import is_compliance_topic, is_resource_event, topic_problem

TEMPLATES = Path(__file__).with_name("templates")
TESTS = Path("tests", "features")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_LINE = 120  # ruff's line length (pyproject.toml): generated code passes the project's lint
MAX_FEATURE_NAME = 40
MAX_KIND = 50  # the jobs.kind column
_ORDERING_NOTE = {
    True: 'ordered_by="updated_at": compare the payload\'s updated_at with what you stored and ignore an older\n'
          "delivery (shopapp.webhooks.freshness.staleness, as shopapp/features/orders/handlers.py does).",
    False: "The sample has no updated_at: order deliveries by ctx.triggered_at (X-Shopify-Triggered-At).",
}


class ScaffoldError(Exception):
    """Why a scaffold was refused (one line; nothing was written)."""


@dataclass(frozen=True)
class Feature:
    """Where a scaffold goes: the feature package's folder and dotted name."""

    name: str
    root: Path

    @property
    def folder(self) -> Path:
        return self.root / Path(*FEATURES_PACKAGE.split(".")) / self.name

    @property
    def exists(self) -> bool:
        return (self.folder / "__init__.py").exists()

    def module_path(self, module: str) -> str:
        return (self.folder / f"{module}.py").relative_to(self.root).as_posix()


def _feature(name: str, root: Path) -> Feature:
    if not _NAME.match(name) or keyword.iskeyword(name) or len(name) > MAX_FEATURE_NAME:
        raise ScaffoldError(f"{name!r} is not a feature name: use a lowercase Python identifier of at most "
                            f"{MAX_FEATURE_NAME} characters, e.g. customers")
    return Feature(name, root)


def _render(template: str, **values: str) -> str:
    return Template((TEMPLATES / template).read_text()).substitute(values)


def _write_new(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise ScaffoldError(f"{path} already exists; remove it or choose another name")


def _imports(feature: str, names: list[str], comment: str) -> str:
    """`from shopapp.features.<feature> import <names>` on one line, or one name a line when that is too long."""
    line = f"from {FEATURES_PACKAGE}.{feature} import {', '.join(names)}  # noqa: F401{comment}"
    if len(line) <= MAX_LINE:
        return line
    return "\n".join([f"from {FEATURES_PACKAGE}.{feature} import (", *(f"    {n},  # noqa: F401" for n in names), ")"])


def _register_module(feature: Feature, module: str, command: str) -> Path:
    """Make the feature package import `module` (creating the package if needed); returns its __init__.py."""
    init = feature.folder / "__init__.py"
    if not feature.exists:
        return _write_new(init, _render("feature_init.py.tmpl", feature=feature.name, command=command,
                                        imports=_imports(feature.name, [module], "  (registers its handler)")))
    text = init.read_text()
    pattern = re.compile(rf"^from {re.escape(FEATURES_PACKAGE)}\.{feature.name} import "
                         r"(?:\((?P<block>[^)]*)\)|(?P<line>[\w, ]+?)(?:  # noqa: F401(?P<comment>.*))?)$", re.M)
    match = pattern.search(text)
    if match:
        listed = match.group("line") or re.sub(r"#[^\n]*", "", match.group("block"))
        names = sorted({n for n in re.split(r"[\s,]+", listed) if n} | {module})
        statement = _imports(feature.name, names, match.group("comment") or "")
        text = text[:match.start()] + statement + text[match.end():]
    else:  # another layout: a statement of its own at the end
        text = text.rstrip("\n") + "\n" + _imports(feature.name, [module], "") + "\n"
    init.write_text(text)
    return init


def _write_test(root: Path, name: str, text: str) -> list[Path]:
    """Write tests/features/<name> (and the folder's __init__.py, so pytest imports it as a package)."""
    folder = root / TESTS
    written = [] if (folder / "__init__.py").exists() else [_write_new(folder / "__init__.py", "")]
    return written + [_write_new(folder / name, text)]


def _known_sample(resource: str) -> Optional[Path]:
    """The richest sample a loaded feature keeps for a topic of `resource` (one with id, updated_at first)."""
    from shopapp.jobs import registry as jobs_registry

    features = tuple(jobs_registry.features())
    candidates = []
    for name, registration in jobs_registry.topics().items():
        if name.split("/")[0] != resource or is_compliance_topic(name) or not registration.module.startswith(features):
            continue
        try:
            path = jobs_registry.sample_path(name)
            payload = json.loads(path.read_text())
        except (LookupError, ValueError):
            continue
        if isinstance(payload, dict) and "id" in payload:
            candidates.append(("updated_at" not in payload, -len(payload), name, path))
    return min(candidates)[3] if candidates else None


def _singular(resource: str) -> str:
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    if resource.endswith("sses"):
        return resource[:-2]
    return resource[:-1] if resource.endswith("s") and not resource.endswith("ss") else resource


def _skeleton(resource: str) -> str:
    """A minimal payload: id, admin_graphql_api_id (e.g. gid://shopify/Customer/...) and updated_at (now)."""
    kind = "".join(part.capitalize() for part in _singular(resource).split("_"))
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    sample = {"id": 1234567890, "admin_graphql_api_id": f"gid://shopify/{kind}/1234567890", "updated_at": now}
    return json.dumps(sample, indent=2) + "\n"


def scaffold_webhook(topic: str, feature_name: Optional[str], root: Path, api_version: str) -> list[Path]:
    """Write the handler, sample, test and subscription for `topic`; returns the files written or changed.

    Raises ScaffoldError (nothing written) for a bad or existing topic or feature name, or existing files.
    """
    from shopapp.jobs import registry as jobs_registry

    if not is_resource_event(topic):
        raise ScaffoldError(f"{topic!r} is not a topic name: use the resource/event form (lowercase letters, "
                            "digits, underscores), e.g. orders/paid or app_subscriptions/update")
    problem = topic_problem(topic)
    if problem:
        raise ScaffoldError(problem)
    existing = jobs_registry.topic(topic)
    if existing is not None:
        raise ScaffoldError(f"{topic} is already handled by {existing.qualname}")
    resource = topic.split("/")[0]
    feature = _feature(feature_name or resource, root)
    module = topic.replace("/", "_")
    handler, test = feature.folder / f"{module}.py", root / TESTS / f"test_{module}.py"
    sample = feature.folder / "samples" / jobs_registry.sample_name(topic)
    _refuse_existing(handler, test)
    toml_path = root / APP_TOML
    try:
        subscribed = any(topic in s.all_topics for s in read_app_toml(toml_path).subscriptions)
    except AppTomlError as exc:
        raise ScaffoldError(str(exc)) from None
    written = []
    if sample.exists():
        origin = "was already there"
    else:
        source = _known_sample(resource)
        text = source.read_text() if source else _skeleton(resource)
        origin = (f"was copied from the {source.stem} sample (same resource)" if source else
                  "is a skeleton (id, admin_graphql_api_id, updated_at)")
        written.append(_write_new(sample, text))
    ordered = "updated_at" in json.loads(sample.read_text())
    written.append(_write_new(handler, _render(
        "webhook_handler.py.tmpl", topic=topic, function=f"handle_{module}",
        ordered_by=', ordered_by="updated_at"' if ordered else "", ordering_note=_ORDERING_NOTE[ordered])))
    written.append(_register_module(feature, module, f"new webhook {topic}"))
    written += _write_test(root, test.name, _render(
        "webhook_test.py.tmpl", topic=topic, module_path=feature.module_path(module), api_version=api_version,
        sample_path=sample.relative_to(root).as_posix(), sample_origin=origin))
    if not subscribed:
        add_subscription(toml_path, [topic], feature.module_path(module))
        written.append(toml_path)
    return written


def scaffold_job(kind: str, feature_name: Optional[str], root: Path) -> list[Path]:
    """Write the merchant job kind `kind` and its test; returns the files written or changed.

    Raises ScaffoldError (nothing written) for a bad or existing kind or feature name, or existing files.
    """
    from shopapp.jobs import registry as jobs_registry

    if not _NAME.match(kind) or keyword.iskeyword(kind) or len(kind) > MAX_KIND:
        raise ScaffoldError(f"{kind!r} is not a job kind: use a lowercase Python identifier of at most {MAX_KIND} "
                            "characters, e.g. export_orders")
    if kind in jobs_registry.kinds():
        raise ScaffoldError(f"job kind {kind!r} already exists ({jobs_registry.kind(kind).qualname})")
    feature = _feature(feature_name or kind, root)
    job, test = feature.folder / f"{kind}.py", root / TESTS / f"test_{kind}.py"
    _refuse_existing(job, test)
    written = [_write_new(job, _render("job_kind.py.tmpl", kind=kind, function=f"run_{kind}"))]
    written.append(_register_module(feature, kind, f"new job {kind}"))
    written += _write_test(root, test.name,
                           _render("job_test.py.tmpl", kind=kind, module_path=feature.module_path(kind)))
    return written


def _report(command: str, written: list[Path], root: Path) -> None:
    """Print what a scaffold wrote and the next step."""
    test = next(p for p in written if p.name.startswith("test_"))
    print(f"shopapp {command}:")
    for path in dict.fromkeys(written):
        print(f"  wrote {path.relative_to(root).as_posix()}")
    print(f"Next: edit it, then run .venv/bin/python -m pytest {test.relative_to(root).as_posix()} and "
          ".venv/bin/python -m shopapp webhooks check")


@click.group("new")
def new_group() -> None:
    """Scaffold a webhook handler or a merchant job kind, with its test."""


@new_group.command("webhook")
@click.argument("topic")
@click.option("--feature", default=None, help="feature package (default: the topic's resource)")
def new_webhook_command(topic: str, feature: Optional[str]) -> int:
    """A handler for TOPIC (resource/event), its sample, its test and its subscription."""
    config = registry(settings())
    try:
        written = scaffold_webhook(topic, feature, ROOT, config.SHOPIFY_API_VERSION)
    except ScaffoldError as exc:
        print(f"shopapp new webhook: {exc}", file=sys.stderr)
        return 2
    _report(f"new webhook {topic}", written, ROOT)
    return 0


@new_group.command("job")
@click.argument("kind")
@click.option("--feature", default=None, help="feature package (default: the kind's name)")
def new_job_command(kind: str, feature: Optional[str]) -> int:
    """A merchant job kind KIND (progress, cancellation, a timeout) and its test."""
    registry(settings())
    try:
        written = scaffold_job(kind, feature, ROOT)
    except ScaffoldError as exc:
        print(f"shopapp new job: {exc}", file=sys.stderr)
        return 2
    _report(f"new job {kind}", written, ROOT)
    return 0


def register(group: click.Group) -> None:
    group.add_command(new_group)
