"""Revisions of the ``pki`` store kind."""
