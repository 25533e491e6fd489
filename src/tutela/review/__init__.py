"""Review: the queue of cases people decide, their decisions, and reviewers' wellness settings."""
