"""Edge layer: the HTTP APIs (FastAPI) of the provider (tutela.api.app), the centre
(tutela.api.centre) and the authority (tutela.api.authority); routes translate HTTP to domain
calls.

Nothing is imported here: the centre and the authority do not load the provider's API.
"""
