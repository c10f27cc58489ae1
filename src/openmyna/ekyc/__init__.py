"""eKYC: the platform operator (プラットフォーム事業者) for JPKI identity verification (H4, J3).

Businesses (署名検証者 that entrust the check to the operator) post what their customer signed
with the signature certificate of the My Number Card; the operator checks it with the JPKI
verifier, asks the JPKI's OCSP responder for the certificate's status at the time of use,
and answers with the 4 items read from the certificate — the online method of 犯収法施行規則
第6条第1項第1号ワ. See docs/identity.md, "eKYC".

- ``service.EkycPlatform``: businesses and their API keys, the check, the audit log, the bill;
- ``api``: the business-facing HTTP routes under ``/api/ekyc``;
- ``cli``: ``openmyna ekyc`` — the operator's commands and the customer's ``sign``;
- ``tables``: the operator's own database (store kind ``ekyc``).
"""

from openmyna.ekyc.errors import (
    ApiKeyNotFound,
    BadApiKey,
    BadRequestData,
    BusinessNotFound,
    BusinessSuspended,
)
from openmyna.ekyc.service import (
    AuditEntry,
    BillLine,
    Business,
    Caller,
    EkycPlatform,
    IssuedKey,
    Verification,
)

__all__ = [
    "ApiKeyNotFound",
    "AuditEntry",
    "BadApiKey",
    "BadRequestData",
    "BillLine",
    "Business",
    "BusinessNotFound",
    "BusinessSuspended",
    "Caller",
    "EkycPlatform",
    "IssuedKey",
    "Verification",
]
