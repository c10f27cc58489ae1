"""The card data signer's certificate as the real card holds it (EF 0004 of the text AP).

The real 券面事項入力補助AP does not hold an X.509 certificate in EF 0004 but its own
card-verifiable structure (the sources call it 中間証明書, "intermediate certificate"):

    7F21 82 02 33                          the certificate, 568 bytes in all
      5F4E 82 01 29                        the body (what the signature covers, as a TLV)
        issuer id (16) | subject id (16)   key identifiers
        82 03 <e>                          the public exponent
        81 82 01 00 <n>                    the 2048-bit modulus
      5F37 82 01 00 <signature>            RSASSA-PKCS1-v1_5, 256 bytes

Sources: AokiApp/jsapdu ``packages/mynacard/src/schema.ts`` (``schemaCertificate``: 7F21 with
5F4E = issuer 16 bytes, subject 16 bytes, then the public key as two TLVs, exponent first;
and 5F37 the signature) and jpki/myna's Go reader (``_go/libmyna/text_ap.go``
``ReadCertificate`` reads exactly 568 bytes and unmarshals application tag 33 = 7F21 holding
application tag 78 = 5F4E). The one-byte tags of the two key TLVs are not in those sources;
openmyna uses ISO/IEC 7816-8's ``81`` (modulus) and ``82`` (exponent), which give the
568 bytes the real card has. On the real card J-LIS signs this certificate; openmyna's card
data signer signs its own (issuer id = subject id = its key id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.card.tlv import TLVError, read_tlv, tlv, tlv_long

TAG_CERTIFICATE = 0x7F21
TAG_BODY = 0x5F4E
TAG_SIGNATURE = 0x5F37
TAG_MODULUS = 0x81
TAG_EXPONENT = 0x82
KEY_ID_SIZE = 16
#: The size of EF 0004 with an RSA-2048 key (jpki/myna ``ReadCertificate`` reads 568 bytes).
CERTIFICATE_SIZE = 568


def key_id(public: rsa.RSAPublicKey) -> bytes:
    """A 16-byte identifier of a public key (the first half of SHA-256 over its SPKI)."""
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:KEY_ID_SIZE]


def _unsigned(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


@dataclass(frozen=True)
class CardDataCertificate:
    """EF 0004 as read: the key that verifies the card data, and its certificate's signature."""

    issuer_id: bytes
    subject_id: bytes
    public_numbers: rsa.RSAPublicNumbers
    #: The ``5F4E`` TLV, the bytes ``signature`` covers.
    body: bytes
    signature: bytes

    def public_key(self) -> rsa.RSAPublicKey:
        """The card data signer's public key."""
        return self.public_numbers.public_key()

    def verifies(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (RSASSA-PKCS1-v1_5, SHA-256) over ``data`` is this key's."""
        try:
            self.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    @property
    def self_signed(self) -> bool:
        """Whether the certificate names its own key as issuer and its signature verifies."""
        return self.issuer_id == self.subject_id and self.verifies(self.body, self.signature)


def encode_certificate(
    public: rsa.RSAPublicKey, sign: Callable[[bytes], bytes], issuer_id: bytes | None = None
) -> bytes:
    """EF 0004: the certificate of ``public``, signed by ``sign`` (self-signed by default)."""
    numbers = public.public_numbers()
    subject = key_id(public)
    issuer = subject if issuer_id is None else issuer_id
    if len(issuer) != KEY_ID_SIZE:
        raise ValueError("an issuer id is 16 bytes")
    key = tlv(TAG_EXPONENT, _unsigned(numbers.e)) + tlv(TAG_MODULUS, _unsigned(numbers.n))
    body = tlv_long(TAG_BODY, issuer + subject + key)
    return tlv_long(TAG_CERTIFICATE, body + tlv_long(TAG_SIGNATURE, sign(body)))


def decode_certificate(data: bytes) -> CardDataCertificate:
    """The certificate in EF 0004; ``TLVError`` if the file is not one."""
    tag, value, _ = read_tlv(data)
    if tag != TAG_CERTIFICATE:
        raise TLVError("not a card data certificate")
    body_tag, body, body_end = read_tlv(value)
    sig_tag, signature, _ = read_tlv(value, body_end)
    if body_tag != TAG_BODY or sig_tag != TAG_SIGNATURE or len(body) < 2 * KEY_ID_SIZE:
        raise TLVError("the card data certificate is incomplete")
    key = body[2 * KEY_ID_SIZE :]
    first, first_value, end = read_tlv(key)
    second, second_value, _ = read_tlv(key, end)
    fields = {first: first_value, second: second_value}
    if set(fields) != {TAG_EXPONENT, TAG_MODULUS}:
        raise TLVError("the card data certificate holds no RSA key")
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(fields[TAG_EXPONENT], "big"), int.from_bytes(fields[TAG_MODULUS], "big")
    )
    return CardDataCertificate(
        issuer_id=body[:KEY_ID_SIZE],
        subject_id=body[KEY_ID_SIZE : 2 * KEY_ID_SIZE],
        public_numbers=numbers,
        body=value[:body_end],
        signature=signature,
    )
