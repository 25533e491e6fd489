"""Domain: banks of indicators (hashes of known material), their imports, feeds and the matcher."""
