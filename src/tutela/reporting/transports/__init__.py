"""The built-in report transports (centre, ncmec, file, dsa-tdb): plug-ins of the one outbox
(tutela.messaging.transports), registered by name like third parties' transports."""
