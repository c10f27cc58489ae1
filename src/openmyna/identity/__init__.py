"""Identity for other sites and businesses: the OpenID Connect provider (``identity.oidc``)."""
