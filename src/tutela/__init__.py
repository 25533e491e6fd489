"""Tutela: open infrastructure for the duties of the EU CSA Regulation (provider and centre nodes)."""

__version__ = "0.1.0"
