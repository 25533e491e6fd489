"""The risk assessment and mitigation register of a provider (Art 3-5 of the Regulation)."""
