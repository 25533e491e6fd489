"""The authority node: its providers, the orders it issues and the execution reports it receives."""
