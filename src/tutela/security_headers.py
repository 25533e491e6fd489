"""The security headers every answer of every node carries: the HTTP API's hardening adds them
to each answer (tutela.api.middleware) and the consoles' pages set them themselves (tutela.ui),
so both edges read them here rather than from each other."""

from __future__ import annotations

# Pages load nothing from elsewhere and run only our script; revealed pictures are blob: URLs.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
