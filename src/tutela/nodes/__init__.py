"""Composition roots: each node (provider, centre, authority, and the provider's detection worker)
is assembled here from the engine, the domain packages and both edges (the HTTP API of
`tutela.api` and the console of `tutela.ui`, which know nothing of each other). These modules are
the only ones below the command line that may import everything (the layer map in
`pyproject.toml`, checked by tests/test_layers.py)."""
