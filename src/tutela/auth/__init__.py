"""Domain: API keys for the platforms and tools that call a node, with scopes per endpoint family."""
