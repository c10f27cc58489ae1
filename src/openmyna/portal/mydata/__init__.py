"""自己情報 (P3): what agencies hold about the person, fetched over the network on request."""
