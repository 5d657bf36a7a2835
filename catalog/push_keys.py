"""VAPID keys in the forms the browser and pywebpush take (base64url, no padding)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_vapid_pair() -> tuple[str, str]:
    """(public, private): the public key as the 65-byte uncompressed P-256 point that
    PushManager.subscribe takes as applicationServerKey, the private key as its raw
    32-byte number (py_vapid's Vapid.from_string reads it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(public), b64url(private)
