"""Who may force a variant with ``X-Tandem-Variant``: holders of a debug key or the admin token.

Debug keys are declared as sha256 hex digests (``TANDEM_VARIANT_OVERRIDE_KEYS``, never the keys
themselves) and sent in ``X-Tandem-Debug-Key``; the admin token works in the same header. The
sent value is hashed and compared with every declared digest, and the admin token with
:func:`hmac.compare_digest`, as bytes, so a header with odd characters is a wrong key, never an
error, and the comparison takes the same time whatever the value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

DEBUG_KEY_HEADER = "X-Tandem-Debug-Key"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def parse_override_keys(value: Any) -> Any:
    """Settings text (JSON list, or comma-separated) → a tuple of lower-case sha256 digests."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        items = json.loads(text) if text.startswith("[") else text.split(",")
        value = [str(item) for item in items]
    if isinstance(value, Sequence) and not isinstance(value, str):
        digests = tuple(str(item).strip().lower() for item in value if str(item).strip())
        bad = [d[:12] for d in digests if not _SHA256_HEX.match(d)]
        if bad:
            raise ValueError(
                "variant override keys are sha256 hex digests of the keys (64 hex digits), "
                f"not the keys: {', '.join(bad)}"
            )
        return digests
    return value


class OverridePermission:
    """Decides whether one request's debug-key header allows it to force a variant."""

    def __init__(self, key_digests: Sequence[str], admin_token: str | None = None) -> None:
        self._digests = tuple(bytes.fromhex(d) for d in key_digests)
        self._admin = admin_token.encode() if admin_token else None

    @property
    def anyone_can(self) -> bool:
        """False: nothing declared, so no request can force a variant (the common case)."""
        return bool(self._digests) or self._admin is not None

    def allows(self, debug_key: str | bytes | None) -> bool:
        if not debug_key or not self.anyone_can:
            return False
        given = (
            debug_key
            if isinstance(debug_key, bytes)
            else debug_key.encode("utf-8", "surrogateescape")
        )
        allowed = self._admin is not None and hmac.compare_digest(given, self._admin)
        digest = hashlib.sha256(given).digest()
        for known in self._digests:
            allowed |= hmac.compare_digest(digest, known)
        return allowed
