"""How nodes talk to each other and to platforms: canonical JSON, signatures, sealing, one HTTP
client, one retry rule and one outbox whose transports are plug-ins. An engine package: it knows
the database but no domain package (DESIGN rule 4: every message is delivered at least once)."""
