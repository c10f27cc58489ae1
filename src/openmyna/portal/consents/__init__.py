"""同意: the person's consents to businesses (the latest-4-items service, SPEC J4).

``web``: the pages ``/consents`` (the list, and the requests waiting), a request to review
and sign with the card, one consent and its history, revocation; the one-time card URL
``/consents/card/<token>`` (the e-applications' wire format: ``openmyna card
sign-application`` answers it) and, in the demo, the wallet. The service itself is
``openmyna.latest_items`` (J-LIS's, on its own store).
"""
