"""Large webhook bodies, for tests and bench/large_bodies.py: a product with thousands of variants (Shopify
allows 2,048 since October 2025, and a `products/update` of one passes 1 MB), and each web process's peak
resident memory while a real gunicorn answers them (`PeakMemory`; psutil, a test dependency).
"""
from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

MIB = 1024 * 1024


def product_with_variants(count: int, product_id: int = 788032119674292922) -> dict:
    """A `products/update` payload (REST shape, as Shopify sends it) with `count` variants over three
    options (size, colour, material), each variant with the fields Shopify's payload carries."""
    sizes = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
    colours = [f"Colour {n:02d}" for n in range(32)]
    materials = [f"Material {n:02d}" for n in range(1 + count // (len(sizes) * len(colours)))]
    variants, gids = [], []
    for n in range(count):
        size, colour = sizes[n % len(sizes)], colours[(n // len(sizes)) % len(colours)]
        material = materials[n // (len(sizes) * len(colours))]
        variant_id = 40_000_000_000_000 + n
        gid = f"gid://shopify/ProductVariant/{variant_id}"
        variants.append({
            "admin_graphql_api_id": gid, "barcode": f"0{n:012d}", "compare_at_price": "24.99",
            "created_at": "2026-11-20T10:00:00-05:00", "id": variant_id, "inventory_policy": "deny",
            "position": n + 1, "price": f"{19 + n % 50}.99", "product_id": product_id, "sku": f"TEE-{n:05d}",
            "taxable": True, "title": f"{size} / {colour} / {material}", "updated_at": "2026-11-24T09:00:00-05:00",
            "option1": size, "option2": colour, "option3": material, "image_id": None,
            "inventory_item_id": 50_000_000_000 + n, "inventory_quantity": n % 97, "old_inventory_quantity": n % 97,
        })
        gids.append({"admin_graphql_api_id": gid, "updated_at": "2026-11-24T14:00:00.000Z"})
    options = [{"id": 527050010214937811 + i, "product_id": product_id, "name": name, "position": i + 1,
                "values": values} for i, (name, values) in enumerate(
                    [("Size", sizes), ("Colour", colours), ("Material", materials)])]
    return {
        "admin_graphql_api_id": f"gid://shopify/Product/{product_id}", "body_html": "<p>An example T-shirt</p>",
        "created_at": "2026-11-20T10:00:00-05:00", "handle": "example-t-shirt", "id": product_id,
        "product_type": "Shirts", "published_at": "2026-11-20T10:00:00-05:00", "template_suffix": None,
        "title": "Example T-Shirt (every size, colour and material)", "updated_at": "2026-11-24T12:00:00-05:00",
        "vendor": "Acme", "status": "active", "published_scope": "web", "tags": "example, t-shirt",
        "variants": variants, "options": options, "images": [], "image": None, "media": [],
        "variant_gids": gids, "has_variants_that_requires_components": False, "category": None,
    }


def product_body(min_bytes: int) -> bytes:
    """Compact JSON of a `product_with_variants` product of at least `min_bytes` bytes (as Shopify sends it)."""
    count = 64
    while True:
        body = json.dumps(product_with_variants(count), separators=(",", ":")).encode()
        if len(body) >= min_bytes:
            return body
        count = int(count * min_bytes / len(body)) + 1


class PeakMemory:
    """Each worker process of a gunicorn master: the largest RSS seen by sampling (psutil, every
    `interval` seconds, in a thread) and the kernel's own high-water mark (VmHWM, Linux), in bytes."""

    def __init__(self, master_pid: int, interval: float = 0.005):
        import psutil

        self.workers = psutil.Process(master_pid).children()
        self.interval = interval
        self.sampled = {w.pid: 0 for w in self.workers}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            for worker in self.workers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.sampled[worker.pid] = max(self.sampled[worker.pid], worker.memory_info().rss)
            self._stop.wait(self.interval)

    def high_water(self) -> dict[int, int]:
        """VmHWM of each worker (peak RSS since it started), or the sampled peak where /proc has none."""
        peaks = {}
        for worker in self.workers:
            status = Path(f"/proc/{worker.pid}/status")
            lines = status.read_text().splitlines() if status.exists() else []
            kb = [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
            peaks[worker.pid] = kb[0] * 1024 if kb else self.sampled[worker.pid]
        return peaks

    def current(self) -> dict[int, int]:
        """Each worker's RSS now, in bytes."""
        return {worker.pid: worker.memory_info().rss for worker in self.workers}
