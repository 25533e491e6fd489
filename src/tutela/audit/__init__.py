"""Domain: the append-only, hash-chained audit log of every look at content, decision and export."""
