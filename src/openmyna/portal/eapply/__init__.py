"""ぴったりサービス (SPEC P5): search services, fill a form, sign it with the card, follow it.

Named ``eapply`` (electronic application, 電子申請) so that it is not mistaken for the
top-level ``openmyna.services`` (the services on the card, SPEC S*).

- ``catalogue``: which municipality offers which form, by category and life event;
- ``forms``: form definitions as data (``data/forms/*.toml``), validated on load, and the
  checks of the answers made from the same definitions;
- ``drafts``: an application being filled in, its attachments, the card's pre-fill;
- ``cards``: one-time requests answered by the holder's app: pre-fill from the
  券面事項入力補助AP (after consent), and the CMS signature with the signature certificate;
- ``canonical``: the signed bytes; ``openmyna.pki.cms``: the CMS profile;
- ``applications``: the delivered applications, the applicant's view and the back office's
  (``BackOffice``: list by municipality and status, get, receive, decide);
- ``models``: the status model; ``service.EApply``: all of it as one object
  (``Portal.eapply``, ``Builder.portal_eapply()``); ``web``: the pages under ``/services``;
  ``wallet``: the card endpoints and the demo wallet.
"""
