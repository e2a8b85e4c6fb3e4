"""The codec's one error type: everything malformed in GBCS bytes raises :class:`GbcsError`."""

from __future__ import annotations


class GbcsError(ValueError):
    """Malformed or unsupported GBCS bytes; ``offset`` is where decoding stopped."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset

    def to_json(self) -> dict:
        return {"error": str(self), "offset": self.offset}
