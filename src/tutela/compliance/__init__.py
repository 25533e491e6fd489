"""A provider's compliance documents to its Coordinating Authority of establishment: the Art 5
risk report of a signed-off assessment and the yearly figures of Art 83(2), signed with the
provider's key and delivered through the outbox (`tutela.compliance.sending`); what both nodes
agree on is in `tutela.compliance.documents`, what the authority does with them in
`tutela.authority.compliance`."""
