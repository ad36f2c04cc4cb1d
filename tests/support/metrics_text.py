"""Reading /metrics in tests: scrape it and look up one sample."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict:
    """{(sample name, sorted labels): value} of an exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)
