"""Encryption at rest for access tokens (Fernet from `cryptography`, with key rotation via MultiFernet)."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_cipher: MultiFernet | None = None


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


def configure(keys: tuple[str, ...] | list[str]) -> None:
    """Install the keys: the first encrypts, every one decrypts. Called by `create_app` and the worker."""
    global _cipher
    _cipher = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def _require() -> MultiFernet:
    if _cipher is None:
        raise RuntimeError("shopapp.crypto.configure() was not called (no SHOPAPP_ENCRYPTION_KEY)")
    return _cipher


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return _require().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt a stored secret; raises DecryptionError when no configured key fits."""
    try:
        return _require().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("stored secret cannot be decrypted with SHOPAPP_ENCRYPTION_KEY") from None
