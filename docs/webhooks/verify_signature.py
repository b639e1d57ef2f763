import hashlib
import hmac
import time


def verify_webhook(secret: str, signature_header: str, raw_body: bytes, tolerance: int = 300) -> bool:
    """True when the request comes from us: a v1 signature matches the raw body and t is recent."""
    timestamp, signatures = None, []
    for part in (signature_header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
