"""Domain: what the operator of a node must hear about (alerts) and what `tutela status` sums up."""
