"""Statements of reasons (DSA Art 17): every decision that restricts content or an account says
why, to the user through the notice queue and, without personal data, to the EU's DSA
Transparency Database (Art 24(5)) through the outbox. `record_statement` is the one entry point."""
