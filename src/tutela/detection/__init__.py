"""Domain: uploads in, verdicts out — durable queue, hashing, matching, policy, cases, webhooks."""
