"""Orders from authorities (Art 14-15): signed documents, their receipt and execution."""
