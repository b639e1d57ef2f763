"""What evidence a report may carry: the upstream's file types (recognized by their first bytes, never by the
name a browser sends) and size. The JSON API and the storefront check uploads with these, and only these."""

from __future__ import annotations

from collections.abc import Callable

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
# Magic numbers of the evidence types the upstream accepts: jpg, png, webp, zip, pdf, mp4.
EVIDENCE_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "jpg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "zip": lambda b: b.startswith(b"PK\x03\x04"),
    "pdf": lambda b: b.startswith(b"%PDF-"),
    "mp4": lambda b: b[4:8] == b"ftyp",
}


def evidence_type(head: bytes) -> str | None:
    """The evidence type whose signature ``head`` (the file's first 16 bytes) starts with; None for any other."""
    return next((name for name, matches in EVIDENCE_SIGNATURES.items() if matches(head)), None)
