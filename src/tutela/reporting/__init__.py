"""Reporting: the Art 13 report, its signature, the outbox that delivers it, and its transports."""
