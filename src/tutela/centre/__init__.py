"""The EU Centre node: intake of signed reports, de-duplication into incidents, triage, forwarding."""
