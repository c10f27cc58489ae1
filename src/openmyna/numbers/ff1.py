"""FF1 format-preserving encryption (NIST SP 800-38G), on AES from ``cryptography``.

Two paths share one key:

* a scalar path over numeral strings of any radix 2..2^16 and any tweak, written straight
  from the standard (Python integers, CBC-MAC as the PRF) — the reference;
* a batch path over numpy ``uint64`` arrays for values ``x < radix**n < 2**64``.

The batch path rests on one observation. In every Feistel round the PRF input is
``P || Q`` where ``P`` and every block of ``Q`` except the last are the same for every
element of the batch, so the CBC-MAC is ``R = AES(H xor Q_last)`` with a constant ``H``
(``H = AES(P)`` when the tweak is empty). ``Q_last`` differs from a per-round constant only
in its trailing ``b`` bytes, which hold ``NUM(B)``. So a round is: one XOR into a block
buffer, one AES-ECB call over all the batch's blocks, and integer arithmetic on the first
``d`` bytes of each output block. No Python-level loop runs per element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

U64 = npt.NDArray[np.uint64]

_ROUNDS = 10
#: Values per chunk in the batch path: 2**15 uint64 = 256 KiB per array stays in L2 cache.
CHUNK = 1 << 15
_BLOCK = 16
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
#: NIST SP 800-38G Rev. 1: radix**minlen must be at least one million.
_MIN_DOMAIN = 1_000_000


class FF1Error(ValueError):
    """FF1 was called outside its domain (bad radix, length, numeral or key)."""


def _byte_len(v: int, radix: int) -> int:
    """b = ceil(ceil(v * log2(radix)) / 8), computed exactly with integers."""
    # ceil(v*log2(radix)) is the bit length of radix**v - 1 (for radix**v > 1).
    return (int(radix**v - 1).bit_length() + 7) // 8


@dataclass(frozen=True)
class _Plan:
    """Per-(n, tweak) constants of the batch path."""

    n: int
    u: int
    v: int
    b: int
    d: int
    mod_u: int
    mod_v: int
    #: Native-order uint64 of bytes 0..7 of ``H xor Q_last``: the same in every round,
    #: because the round number and NUM(B) sit in bytes 8..15 (b <= 7).
    word0: int
    #: For each round: big-endian value of bytes 8..15 of ``H xor Q_last`` (B bits zero).
    word1: tuple[int, ...]


class FF1:
    """The FF1 cipher for one AES key (16, 24 or 32 bytes) and one radix."""

    def __init__(self, key: bytes, radix: int = 10) -> None:
        if len(key) not in (16, 24, 32):
            raise FF1Error("AES key must be 16, 24 or 32 bytes")
        if not 2 <= radix <= 1 << 16:
            raise FF1Error("radix must be in 2..65536")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - FF1 needs the raw block cipher
        self.radix = radix
        self.min_len = max(2, math.ceil(math.log(_MIN_DOMAIN) / math.log(radix) - 1e-9))
        self._plans: dict[tuple[int, bytes], _Plan] = {}

    def __repr__(self) -> str:
        return f"FF1(radix={self.radix}, key=<hidden>)"

    # ---- common pieces -------------------------------------------------------------

    def _ecb(self) -> CipherContext:
        # A fresh context per call: contexts are cheap and not shared between threads.
        return self._cipher.encryptor()

    def _header(self, n: int, t: int) -> bytes:
        """P = [1,2,1] || [radix]^3 || [10] || [u mod 256] || [n]^4 || [t]^4."""
        u = n // 2
        return (
            bytes([1, 2, 1])
            + self.radix.to_bytes(3, "big")
            + bytes([10, u % 256])
            + n.to_bytes(4, "big")
            + t.to_bytes(4, "big")
        )

    def _check_length(self, n: int) -> None:
        if n < self.min_len:
            raise FF1Error(f"length {n} below the minimum {self.min_len} for radix {self.radix}")
        if n > 1 << 32:
            raise FF1Error("length above 2**32")

    # ---- scalar path (the reference) ----------------------------------------------

    def _prf(self, ecb: CipherContext, data: bytes) -> bytes:
        """CBC-MAC of ``data`` (a multiple of 16 bytes) under the key."""
        y = bytes(_BLOCK)
        for j in range(0, len(data), _BLOCK):
            block = bytes(p ^ q for p, q in zip(y, data[j : j + _BLOCK], strict=True))
            y = ecb.update(block)
        return y

    def _round_value(
        self, ecb: CipherContext, p: bytes, tweak: bytes, i: int, num: int, b: int, d: int
    ) -> int:
        t = len(tweak)
        q = tweak + bytes((-t - b - 1) % _BLOCK) + bytes([i]) + num.to_bytes(b, "big")
        r = self._prf(ecb, p + q)
        s = bytearray(r)
        j = 1
        while len(s) < d:
            mask = j.to_bytes(_BLOCK, "big")
            s += ecb.update(bytes(x ^ y for x, y in zip(r, mask, strict=True)))
            j += 1
        return int.from_bytes(bytes(s[:d]), "big")

    def encrypt(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        """Encrypt a numeral string (a sequence of ints below the radix)."""
        return self._crypt(numerals, tweak, decrypt=False)

    def decrypt(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        """Decrypt a numeral string (a sequence of ints below the radix)."""
        return self._crypt(numerals, tweak, decrypt=True)

    def _crypt(self, numerals: Sequence[int], tweak: bytes, *, decrypt: bool) -> list[int]:
        radix = self.radix
        n = len(numerals)
        self._check_length(n)
        if any(not 0 <= x < radix for x in numerals):
            raise FF1Error("numeral out of range for the radix")
        u, v = n // 2, n - n // 2
        b = _byte_len(v, radix)
        d = 4 * ((b + 3) // 4) + 4
        p = self._header(n, len(tweak))
        a = _num(numerals[:u], radix)
        bb = _num(numerals[u:], radix)
        ecb = self._ecb()
        if not decrypt:
            for i in range(_ROUNDS):
                m = u if i % 2 == 0 else v
                y = self._round_value(ecb, p, tweak, i, bb, b, d)
                a, bb = bb, (a + y) % radix**m
        else:
            for i in reversed(range(_ROUNDS)):
                m = u if i % 2 == 0 else v
                y = self._round_value(ecb, p, tweak, i, a, b, d)
                a, bb = (bb - y) % radix**m, a
        return _str(a, u, radix) + _str(bb, v, radix)

    def encrypt_str(self, text: str, tweak: bytes = b"") -> str:
        """Encrypt a string over ``0-9a-z`` (radix up to 36)."""
        return _to_text(self.encrypt(_from_text(text, self.radix), tweak))

    def decrypt_str(self, text: str, tweak: bytes = b"") -> str:
        """Decrypt a string over ``0-9a-z`` (radix up to 36)."""
        return _to_text(self.decrypt(_from_text(text, self.radix), tweak))

    def encrypt_int(self, x: int, n: int, tweak: bytes = b"") -> int:
        """Encrypt the ``n``-numeral value ``x`` (``0 <= x < radix**n``)."""
        if not 0 <= x < self.radix**n:
            raise FF1Error("value out of range for the length")
        return _num(self.encrypt(_str(x, n, self.radix), tweak), self.radix)

    def decrypt_int(self, x: int, n: int, tweak: bytes = b"") -> int:
        """Decrypt the ``n``-numeral value ``x`` (``0 <= x < radix**n``)."""
        if not 0 <= x < self.radix**n:
            raise FF1Error("value out of range for the length")
        return _num(self.decrypt(_str(x, n, self.radix), tweak), self.radix)

    # ---- batch path -------------------------------------------------------------------

    def _plan(self, n: int, tweak: bytes) -> _Plan:
        key = (n, tweak)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        radix = self.radix
        self._check_length(n)
        if radix**n > 1 << 64:
            raise FF1Error("batch path needs radix**n <= 2**64")
        u, v = n // 2, n - n // 2
        b = _byte_len(v, radix)
        d = 4 * ((b + 3) // 4) + 4
        if b > 7:  # pragma: no cover - impossible when radix**n <= 2**64
            raise FF1Error("batch path needs b <= 7")
        t = len(tweak)
        p = self._header(n, t)
        ecb = self._ecb()
        w0: set[int] = set()
        w1: list[int] = []
        for i in range(_ROUNDS):
            q = tweak + bytes((-t - b - 1) % _BLOCK) + bytes([i]) + bytes(b)
            h = self._prf(ecb, p + q[:-_BLOCK]) if len(q) > _BLOCK else ecb.update(p)
            last = q[-_BLOCK:]
            x = bytes(hh ^ qq for hh, qq in zip(h, last, strict=True))
            w0.add(int(np.frombuffer(x[:8], dtype="<u8")[0]))
            w1.append(int.from_bytes(x[8:], "big"))
        assert len(w0) == 1  # see _Plan.word0
        plan = _Plan(n, u, v, b, d, radix**u, radix**v, w0.pop(), tuple(w1))
        self._plans[key] = plan
        return plan

    def encrypt_array(self, values: npt.ArrayLike, n: int, tweak: bytes = b"") -> U64:
        """Encrypt many ``n``-numeral values at once (uint64 in, uint64 out)."""
        return self._crypt_array(values, n, tweak, decrypt=False)

    def decrypt_array(self, values: npt.ArrayLike, n: int, tweak: bytes = b"") -> U64:
        """Decrypt many ``n``-numeral values at once (uint64 in, uint64 out)."""
        return self._crypt_array(values, n, tweak, decrypt=True)

    def _crypt_array(self, values: npt.ArrayLike, n: int, tweak: bytes, *, decrypt: bool) -> U64:
        x = _as_u64(values)
        plan = self._plan(n, tweak)
        _check_range(x, self.radix**n)
        out = np.empty_like(x)
        worker = _Batch(self, plan, max(1, min(len(x), CHUNK)))
        mod_v = np.uint64(plan.mod_v)
        # Chunks that fit the CPU cache: one Python iteration per CHUNK values.
        for start in range(0, len(x), CHUNK):
            part = x[start : start + CHUNK]
            a = part // mod_v
            b = part - a * mod_v
            a, b = worker.decrypt(a, b) if decrypt else worker.encrypt(a, b)
            a *= mod_v
            a += b
            out[start : start + CHUNK] = a
        return out

    def batch(self, n: int, size: int, tweak: bytes = b"") -> _Batch:
        """A reusable batch worker for ``n``-numeral values, ``size`` at a time (hot loops)."""
        return _Batch(self, self._plan(n, tweak), size)


class _Batch:
    """Buffers and round function of the batch path for one plan and one batch size."""

    def __init__(self, ff1: FF1, plan: _Plan, size: int) -> None:
        self.plan = plan
        self.size = size
        self._ecb = ff1._ecb()
        # Input blocks, and output with room for update_into's extra block.
        self._inp = np.zeros((size, 2), dtype=np.uint64)
        self._out = np.zeros((size + 1, 2), dtype=np.uint64)
        self._inp_be = self._inp.view(">u8")
        self._out_be = self._out.view(">u8")
        self._inp_bytes = self._inp.reshape(-1).view(np.uint8).data
        self._out_bytes = self._out.reshape(-1).view(np.uint8).data
        self._inp[:, 0] = plan.word0
        self._y = np.empty(size, dtype=np.uint64)
        self._q = np.empty(size, dtype=np.uint64)
        self._t = np.empty(size, dtype=np.uint64)

    def _check_size(self, a: U64, b: U64) -> None:
        if len(a) != len(b) or len(a) > self.size:
            raise FF1Error(f"halves must have equal lengths of at most {self.size}")

    def _prf_mod(self, src: U64, i: int, modulus: int) -> U64:
        """NUM(S) mod ``modulus`` for round ``i``, with ``NUM(B) = src`` per element."""
        plan = self.plan
        k = len(src)
        np.bitwise_xor(src, np.uint64(plan.word1[i]), out=self._inp_be[:k, 1])
        self._ecb.update_into(self._inp_bytes[: k * _BLOCK], self._out_bytes)
        y = self._y[:k]
        m = np.uint64(modulus)
        # The first d bytes of R, big-endian: 8 (d = 8) or 12 (d = 12).
        np.copyto(y, self._out_be[:k, 0])
        q = self._q[:k]
        if plan.d == 8:
            _mod(y, m, q)
            return y
        # d == 12: y = hi64 * 2**32 + lo32; reduce 16 bits at a time (modulus < 2**48).
        lo = self._t[:k]
        np.copyto(lo, self._out_be[:k, 1])
        np.right_shift(lo, np.uint64(32), out=lo)
        _mod(y, m, q)
        for shift in (16, 0):
            np.left_shift(y, np.uint64(16), out=y)
            chunk = (lo >> np.uint64(shift)) & np.uint64(0xFFFF)
            np.add(y, chunk, out=y)
            _mod(y, m, q)
        return y

    def encrypt(self, a: U64, b: U64) -> tuple[U64, U64]:
        """Run the ten rounds forward on the halves (A, B); returns new arrays."""
        self._check_size(a, b)
        plan = self.plan
        a = a.copy()
        b = b.copy()
        for i in range(_ROUNDS):
            modulus = plan.mod_u if i % 2 == 0 else plan.mod_v
            y = self._prf_mod(b, i, modulus)
            # c = (A + y) mod radix**m, computed into A's buffer, then swap roles.
            np.add(a, y, out=a)
            _reduce_once(a, modulus, self._t[: len(a)])
            a, b = b, a
        return a, b

    def decrypt(self, a: U64, b: U64) -> tuple[U64, U64]:
        """Run the ten rounds backward on the halves (A, B); returns new arrays."""
        self._check_size(a, b)
        plan = self.plan
        a = a.copy()
        b = b.copy()
        for i in reversed(range(_ROUNDS)):
            modulus = plan.mod_u if i % 2 == 0 else plan.mod_v
            y = self._prf_mod(a, i, modulus)
            # c = (B - y) mod radix**m == (B + (m - y)) reduced once.
            np.subtract(np.uint64(modulus), y, out=y)
            np.add(b, y, out=b)
            _reduce_once(b, modulus, self._t[: len(b)])
            a, b = b, a
        return a, b


def _mod(x: U64, m: np.uint64, scratch: U64) -> None:
    """x %= m in place (floor division is vectorised in numpy, remainder is slower)."""
    np.floor_divide(x, m, out=scratch)
    np.multiply(scratch, m, out=scratch)
    np.subtract(x, scratch, out=x)


def _reduce_once(x: U64, modulus: int, scratch: U64) -> None:
    """x -= modulus where x >= modulus (x < 2 * modulus on entry)."""
    # Unsigned wrap-around: x - m is huge exactly when x < m, so the minimum is right.
    np.subtract(x, np.uint64(modulus), out=scratch)
    np.minimum(x, scratch, out=x)


def _as_u64(values: npt.ArrayLike) -> U64:
    x = np.asarray(values)
    if x.ndim != 1:
        raise FF1Error("batch input must be one-dimensional")
    if x.dtype != np.uint64:
        if x.size and (not np.issubdtype(x.dtype, np.integer) or int(x.min()) < 0):
            raise FF1Error("batch input must be non-negative integers")
        x = x.astype(np.uint64)
    return np.ascontiguousarray(x)


def _check_range(x: U64, limit: int) -> None:
    if x.size and int(x.max()) >= limit:
        raise FF1Error("value out of range for the length")


def _num(numerals: Sequence[int], radix: int) -> int:
    value = 0
    for x in numerals:
        value = value * radix + x
    return value


def _str(x: int, m: int, radix: int) -> list[int]:
    out = [0] * m
    for k in range(m - 1, -1, -1):
        x, out[k] = divmod(x, radix)
    return out


def _from_text(text: str, radix: int) -> list[int]:
    if radix > len(_ALPHABET):
        raise FF1Error("text form needs radix <= 36")
    table = {ch: k for k, ch in enumerate(_ALPHABET[:radix])}
    try:
        return [table[ch] for ch in text.lower()]
    except KeyError:
        raise FF1Error("character outside the radix alphabet") from None


def _to_text(numerals: Sequence[int]) -> str:
    return "".join(_ALPHABET[x] for x in numerals)
