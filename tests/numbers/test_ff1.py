"""FF1 (NIST SP 800-38G): the published samples, permutation, and batch == scalar."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmyna.numbers.ff1 import CHUNK, FF1, FF1Error

KEY128 = "2B7E151628AED2A6ABF7158809CF4F3C"
KEY192 = KEY128 + "EF4359D8D580AA4F"
KEY256 = KEY192 + "7F036D6F04FC6A94"
TWEAK10 = "39383736353433323130"
TWEAK36 = "3737373770717273373737"
PT10 = "0123456789"
PT36 = "0123456789abcdefghi"

# NIST FF1 samples 1-9 (AES-128, AES-192, AES-256): key, radix, tweak, plaintext, ciphertext.
NIST_SAMPLES = [
    (1, KEY128, 10, "", PT10, "2433477484"),
    (2, KEY128, 10, TWEAK10, PT10, "6124200773"),
    (3, KEY128, 36, TWEAK36, PT36, "a9tv40mll9kdu509eum"),
    (4, KEY192, 10, "", PT10, "2830668132"),
    (5, KEY192, 10, TWEAK10, PT10, "2496655549"),
    (6, KEY192, 36, TWEAK36, PT36, "xbj3kv35jrawxv32ysr"),
    (7, KEY256, 10, "", PT10, "6657667009"),
    (8, KEY256, 10, TWEAK10, PT10, "1001623463"),
    (9, KEY256, 36, TWEAK36, PT36, "xs8a0azh2avyalyzuwd"),
]
RADIX10 = [s for s in NIST_SAMPLES if s[2] == 10]

KEY = bytes(range(32))
FF = FF1(KEY)


@pytest.mark.parametrize(("sample", "key", "radix", "tweak", "plain", "cipher"), NIST_SAMPLES)
def test_nist_samples_scalar(
    sample: int, key: str, radix: int, tweak: str, plain: str, cipher: str
) -> None:
    ff = FF1(bytes.fromhex(key), radix)
    assert ff.encrypt_str(plain, bytes.fromhex(tweak)) == cipher, f"sample {sample}"
    assert ff.decrypt_str(cipher, bytes.fromhex(tweak)) == plain, f"sample {sample}"


@pytest.mark.parametrize(("sample", "key", "radix", "tweak", "plain", "cipher"), RADIX10)
def test_nist_samples_batch(
    sample: int, key: str, radix: int, tweak: str, plain: str, cipher: str
) -> None:
    ff = FF1(bytes.fromhex(key), radix)
    t = bytes.fromhex(tweak)
    # The sample among other values: each element is encrypted independently.
    values = np.array([5, int(plain), 9_999_999_999], dtype=np.uint64)
    out = ff.encrypt_array(values, 10, t)
    assert int(out[1]) == int(cipher), f"sample {sample}"
    assert int(ff.decrypt_array(out, 10, t)[1]) == int(plain)
    assert ff.encrypt_int(int(plain), 10, t) == int(cipher)


def test_whole_six_digit_domain_is_a_permutation() -> None:
    x = np.arange(10**6, dtype=np.uint64)
    y = FF.encrypt_array(x, 6)
    assert np.array_equal(np.sort(y), x)
    assert not np.array_equal(y, x)
    assert np.array_equal(FF.decrypt_array(y, 6), x)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=6, max_value=19).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(0, 10**n - 1), min_size=1, max_size=5),
            st.binary(max_size=40),
        )
    )
)
def test_batch_equals_scalar_and_decrypt_inverts(case: tuple[int, list[int], bytes]) -> None:
    n, values, tweak = case
    x = np.array(values, dtype=np.uint64)
    enc = FF.encrypt_array(x, n, tweak)
    assert [FF.encrypt_int(v, n, tweak) for v in values] == enc.tolist()
    assert np.array_equal(FF.decrypt_array(enc, n, tweak), x)
    assert [FF.decrypt_int(int(v), n, tweak) for v in enc] == values
    assert all(int(v) < 10**n for v in enc)


@pytest.mark.parametrize("n", [6, 10, 11, 12, 18, 19])
def test_batch_across_chunk_boundaries(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.integers(0, 10**n, size=CHUNK + 17, dtype=np.uint64)
    enc = FF.encrypt_array(x, n)
    assert np.array_equal(FF.decrypt_array(enc, n), x)
    # Spot-check elements in both chunks against the scalar reference.
    for i in (0, CHUNK - 1, CHUNK, CHUNK + 16):
        assert FF.encrypt_int(int(x[i]), n) == int(enc[i])


def test_other_radix_batch_matches_scalar() -> None:
    ff = FF1(KEY, radix=16)
    x = np.array([0, 1, 16**8 - 1, 0xABCDEF12], dtype=np.uint64)
    enc = ff.encrypt_array(x, 8, b"t")
    assert enc.tolist() == [ff.encrypt_int(int(v), 8, b"t") for v in x]


def test_tweak_and_key_change_the_result() -> None:
    x = np.arange(100, dtype=np.uint64)
    a = FF.encrypt_array(x, 11)
    assert not np.array_equal(a, FF.encrypt_array(x, 11, b"other"))
    assert not np.array_equal(a, FF1(bytes(32)).encrypt_array(x, 11))


def test_empty_batch() -> None:
    assert FF.encrypt_array(np.array([], dtype=np.uint64), 11).size == 0


@pytest.mark.parametrize(
    "bad",
    [
        lambda: FF1(b"short"),
        lambda: FF1(KEY, radix=1),
        lambda: FF.encrypt_int(1, 5),  # 10**5 < one million: below the minimum length
        lambda: FF.encrypt_int(10**11, 11),
        lambda: FF.encrypt([0, 1, 2, 3, 4, 10]),
        lambda: FF.encrypt_array(np.array([10**11], dtype=np.uint64), 11),
        lambda: FF.encrypt_array(np.array([10**19], dtype=np.uint64), 19),
        lambda: FF.encrypt_array(np.array([-1]), 11),
        lambda: FF.encrypt_array(np.zeros((2, 2), dtype=np.uint64), 11),
        lambda: FF.encrypt_array(np.array([1], dtype=np.uint64), 20),  # 10**20 > 2**64
        lambda: FF1(KEY, radix=40).encrypt_str("abc"),
        lambda: FF.batch(11, 4).encrypt(np.zeros(5, np.uint64), np.zeros(5, np.uint64)),
        lambda: FF1(KEY, radix=10).encrypt_str("01234a"),
    ],
)
def test_out_of_domain_is_refused(bad: object) -> None:
    assert callable(bad)
    with pytest.raises(FF1Error):
        bad()


def test_repr_hides_the_key() -> None:
    assert KEY.hex() not in repr(FF)
