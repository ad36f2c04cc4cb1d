"""Reading a Content-Security-Policy header in tests."""
from __future__ import annotations


def parse_policy(header: str) -> dict[str, list[str]]:
    """`{directive: [sources]}` of a Content-Security-Policy header value (a repeated directive is ignored,
    as browsers do)."""
    policy: dict[str, list[str]] = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *values = directive.split()
        policy.setdefault(name.lower(), values)
    return policy


def policy_of(response) -> dict[str, list[str]]:
    """The one Content-Security-Policy of a Flask test response, parsed (fails if there is none or several)."""
    (header,) = response.headers.getlist("Content-Security-Policy")
    return parse_policy(header)
