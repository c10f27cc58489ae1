"""Certificate profiles: CAs, the 4 items in the SAN, policies, key usage, validity rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID
from pki_helpers import BORN, der, issue_both, resident_code

from openmyna.clock import JST, FixedClock
from openmyna.errors import InvalidInput
from openmyna.pki import (
    OID_ADDRESS,
    OID_DATE_OF_BIRTH,
    OID_NAME,
    OID_NAME_SUBSTITUTE,
    OID_SEX,
    POLICY_AUTH,
    POLICY_SIGN,
    CertKind,
    InvalidCertRequest,
    Jpki,
    SignCertUnderAge,
    parse_sign_items,
)
from openmyna.pki.profiles import (
    der_string,
    end_of_day,
    parse_der_string,
    policy_oids,
    substitute_characters,
)


def _ku(cert: x509.Certificate) -> x509.Extension[x509.KeyUsage]:
    return cert.extensions.get_extension_for_class(x509.KeyUsage)


# --- pure rules -------------------------------------------------------------------------------


def test_end_of_day() -> None:
    # The validity's last day and the age are the law's rules (tests/law).
    end = end_of_day(dt.date(2031, 5, 17))
    assert end.astimezone(JST) == dt.datetime(2031, 5, 17, 23, 59, 59, tzinfo=JST)
    assert end.tzinfo == dt.UTC


def test_der_strings_round_trip_and_reject_garbage() -> None:
    for tag, text in ((0x0C, "山田 太郎" * 30), (0x13, "19800517"), (0x0C, "")):
        assert parse_der_string(der_string(tag, text)) == text
    for bad in (b"", b"\x0c", b"\x0c\x05abc", b"\x04\x01a", b"\x0c\x81\x01a"):
        with pytest.raises(ValueError):  # noqa: PT011 - any of the DER errors
            parse_der_string(bad)


def test_substitute_characters_replace_what_jis_x_0208_lacks() -> None:
    assert substitute_characters("山田 太郎") == "山田 太郎"
    assert substitute_characters("髙橋 𠮷男") == "〓橋 〓男"
    assert substitute_characters("東京都千代田区1-1") == "東京都千代田区1-1"


# --- the CAs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ou"),
    [
        (CertKind.AUTH, "JPKI for user authentication"),
        (CertKind.SIGN, "JPKI for digital signature"),
    ],
)
def test_ca_certificates(sqlite_jpki: Jpki, kind: CertKind, ou: str) -> None:
    ca = sqlite_jpki.ca_certificate(kind)
    assert ca.subject == ca.issuer
    assert ca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "JP"
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "JPKI"
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == ou
    key = ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert ca.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    years = ca.not_valid_after_utc.year - ca.not_valid_before_utc.year
    assert years == 10
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca
    assert _ku(ca).value.key_cert_sign
    assert _ku(ca).value.crl_sign
    ca.verify_directly_issued_by(ca)


def test_the_ocsp_responder_is_delegated_by_each_ca(sqlite_jpki: Jpki) -> None:
    for kind in CertKind:
        responder = sqlite_jpki.responder_certificate(kind)
        responder.verify_directly_issued_by(sqlite_jpki.ca_certificate(kind))
        eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
        assert responder.extensions.get_extension_for_class(x509.OCSPNoCheck)


# --- end entities -------------------------------------------------------------------------------


def test_the_signature_certificate_carries_the_4_items(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    cert = sqlite_jpki.issue_sign_cert(
        ee_key.public_key(),
        resident_code=resident_code(1),
        name="髙橋 花子",
        address="兵庫県神戸市中央区加納町6-5-1",
        date_of_birth=dt.date(1990, 12, 3),
        sex=2,
        card_expiry=None,
    )
    items = parse_sign_items(cert)
    assert items.name == "髙橋 花子"
    assert items.name_substitute == "〓橋 花子"
    assert items.sex == 2
    assert items.date_of_birth == dt.date(1990, 12, 3)
    assert items.address == "兵庫県神戸市中央区加納町6-5-1"
    assert items.address_substitute == items.address
    assert "花子" not in repr(items)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values = {o.type_id: o.value for o in san.get_values_for_type(x509.OtherName)}
    assert len(values) == 6
    assert values[OID_SEX] == b"\x13\x012"  # PrintableString "2"
    assert values[OID_DATE_OF_BIRTH] == b"\x13\x0819901203"
    assert parse_der_string(values[OID_NAME]) == "髙橋 花子"
    assert parse_der_string(values[OID_NAME_SUBSTITUTE]) == "〓橋 花子"
    assert parse_der_string(values[OID_ADDRESS]).startswith("兵庫県")
    assert policy_oids(cert) == [POLICY_SIGN]
    ku = _ku(cert)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.content_commitment
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert cert.issuer == sqlite_jpki.ca_certificate(CertKind.SIGN).subject
    cert.verify_directly_issued_by(sqlite_jpki.ca_certificate(CertKind.SIGN))
    assert cert.not_valid_before_utc == clock.now().replace(microsecond=0)


def test_the_auth_certificate_has_no_personal_information(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    code = resident_code(2)
    auth, _ = issue_both(sqlite_jpki, ee_key, code)
    assert isinstance(auth, x509.Certificate)
    with pytest.raises(x509.ExtensionNotFound):
        auth.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {a.oid for a in auth.subject} == {
        NameOID.COUNTRY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.COMMON_NAME,
    }
    text = der(auth)
    for secret in (code.encode(), "山田".encode(), b"19800517"):
        assert secret not in text
    assert policy_oids(auth) == [POLICY_AUTH]
    ku = _ku(auth)
    assert ku.critical
    assert ku.value.digital_signature
    assert not ku.value.content_commitment
    assert auth.issuer == sqlite_jpki.ca_certificate(CertKind.AUTH).subject


def test_extensions_point_at_crl_and_ocsp_and_link_keys(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    auth, sig = issue_both(sqlite_jpki, ee_key, resident_code(3))
    for cert, kind in ((auth, CertKind.AUTH), (sig, CertKind.SIGN)):
        assert isinstance(cert, x509.Certificate)
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name == [
            x509.UniformResourceIdentifier(f"http://127.0.0.1:8000/crl/{kind.value}")
        ]
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        assert [d.access_location.value for d in aia] == ["http://127.0.0.1:8000/ocsp"]
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ca_ski = sqlite_jpki.ca_certificate(kind).extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        )
        assert aki.key_identifier == ca_ski.value.digest
        assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_serials_are_random_and_at_least_64_bits(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    serials = set()
    for i in range(6):
        auth, _ = issue_both(sqlite_jpki, ee_key, resident_code(10 + i))
        assert isinstance(auth, x509.Certificate)
        serials.add(auth.serial_number)
    assert len(serials) == 6
    assert all(s.bit_length() >= 64 for s in serials)


def test_validity_runs_to_the_fifth_birthday_or_the_card_expiry(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    # clock: 2026-04-01 JST; born 17 May -> birthdays 2026 … 2030: the 5th is 2030-05-17
    auth, sig = issue_both(sqlite_jpki, ee_key, resident_code(4), born=BORN)
    for cert in (auth, sig):
        assert isinstance(cert, x509.Certificate)
        assert cert.not_valid_after_utc == end_of_day(dt.date(2030, 5, 17))
    auth, sig = issue_both(
        sqlite_jpki, ee_key, resident_code(5), born=BORN, card_expiry=dt.date(2028, 8, 1)
    )
    for cert in (auth, sig):
        assert isinstance(cert, x509.Certificate)
        assert cert.not_valid_after_utc == end_of_day(dt.date(2028, 8, 1))


def test_validity_ends_with_a_foreign_residents_period_of_stay(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    # clock: 2026-04-01 JST; the 5th birthday would be 2030-05-17, the card's end 2035-05-17.
    stay = dt.date(2027, 9, 30)
    auth = sqlite_jpki.issue_auth_cert(
        ee_key.public_key(),
        resident_code=resident_code(20),
        date_of_birth=BORN,
        card_expiry=dt.date(2035, 5, 17),
        stay_expires_on=stay,
    )
    sign = sqlite_jpki.issue_sign_cert(
        ee_key.public_key(),
        resident_code=resident_code(20),
        name="グエン ヴァン アン",
        address="群馬県前橋市大手町1番",
        date_of_birth=BORN,
        sex=1,
        card_expiry=None,
        stay_expires_on=stay,
    )
    for cert in (auth, sign):
        assert cert.not_valid_after_utc == end_of_day(stay)
    with pytest.raises(InvalidCertRequest, match="period of stay"):
        sqlite_jpki.issue_auth_cert(
            ee_key.public_key(),
            resident_code=resident_code(21),
            date_of_birth=BORN,
            card_expiry=None,
            stay_expires_on=clock.today() - dt.timedelta(days=1),
        )
    assert sqlite_jpki.certificates_of(resident_code(21)) == []


def test_no_signature_certificate_under_15(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    today = clock.today()  # 2026-04-01
    # The law's age: 15 is reached at the end of the day before the 15th birthday, so a
    # person whose 15th birthday is tomorrow (2011-04-02) is 15 today; one day later is 14.
    fourteen = today.replace(year=today.year - 15) + dt.timedelta(days=2)
    with pytest.raises(SignCertUnderAge) as err:
        sqlite_jpki.issue_sign_cert(
            ee_key.public_key(),
            resident_code=resident_code(6),
            name="山田 花",
            address="群馬県前橋市大手町1番",
            date_of_birth=fourteen,
            sex=2,
            card_expiry=None,
        )
    assert err.value.code == "SIGN_CERT_UNDER_15"
    assert "山田" not in err.value.diagnostics()
    # the auth certificate is issued to a child; the signature one from the day before the
    # 15th birthday
    sqlite_jpki.issue_auth_cert(
        ee_key.public_key(),
        resident_code=resident_code(6),
        date_of_birth=fourteen,
        card_expiry=None,
    )
    sqlite_jpki.issue_sign_cert(
        ee_key.public_key(),
        resident_code=resident_code(7),
        name="山田 次郎",
        address="群馬県前橋市大手町1番",
        date_of_birth=today.replace(year=today.year - 15) + dt.timedelta(days=1),
        sex=1,
        card_expiry=None,
    )
    assert [r.kind for r in sqlite_jpki.certificates_of(resident_code(6))] == [CertKind.AUTH]
    assert [r.kind for r in sqlite_jpki.certificates_of(resident_code(7))] == [CertKind.SIGN]


def test_bad_requests_are_refused(sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    good: dict[str, Any] = {
        "resident_code": resident_code(8),
        "date_of_birth": BORN,
        "card_expiry": None,
    }
    for key in (small.public_key(), ec_key.public_key()):
        with pytest.raises(InvalidCertRequest):
            sqlite_jpki.issue_auth_cert(key, **good)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as bad_code:
        sqlite_jpki.issue_auth_cert(ee_key.public_key(), **{**good, "resident_code": "12345678901"})
    assert bad_code.value.code == "INVALID_NUMBER"
    with pytest.raises(InvalidCertRequest):
        sqlite_jpki.issue_auth_cert(
            ee_key.public_key(), **{**good, "card_expiry": dt.date(2020, 1, 1)}
        )
    with pytest.raises(InvalidCertRequest):
        sqlite_jpki.issue_auth_cert(
            ee_key.public_key(), **{**good, "date_of_birth": dt.date(2030, 1, 1)}
        )
    sign_args: dict[str, Any] = {**good, "name": "山田 太郎", "address": "前橋市", "sex": 1}
    for bad in ({"sex": 3}, {"name": " "}, {"address": "a\nb"}, {"name": "長" * 301}):
        with pytest.raises(InvalidCertRequest):
            sqlite_jpki.issue_sign_cert(ee_key.public_key(), **{**sign_args, **bad})
    assert sqlite_jpki.certificates_of(resident_code(8)) == []
