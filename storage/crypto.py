"""Field encryption (AES-256-GCM under a key ring or a data key) and keyed blind indexes.

A token is: format byte, key-id length, key id, 12-byte nonce, ciphertext with tag.
The associated data names the table, column and row, so a ciphertext copied to
another row or column fails authentication instead of decrypting.

The fields of a case, and of a student, are sealed under that case's or student's own data
key (crypto-shredding: destroying the key leaves every copy of its ciphertext unreadable).
Each data key is stored wrapped by the key ring (storage/data_keys.py); its tokens carry the
key id DATA_KEY_ID, which no key of the ring can have, so tokens sealed under the ring
before data keys existed still open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = 1
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_AAD_PREFIX = b"uss-intake/field/v1\x00"
# The key id of tokens sealed under a row owner's data key: `_KEY_ID` never matches it.
DATA_KEY_ID = "~"
DATA_KEY_PREFIX = bytes([_FORMAT, len(DATA_KEY_ID)]) + DATA_KEY_ID.encode()


class CryptoError(Exception):
    """Base class for key problems; messages never contain plaintext."""


class KeyConfigError(CryptoError):
    """A key specification in the settings is malformed."""


class DecryptionError(CryptoError):
    """A token could not be decrypted: wrong key, unknown key id, or tampering."""


class DataKeyNotLoaded(CryptoError):
    """A row's owner's data key was not looked up in its session (a programming error:
    rows loaded from the database have it; a new row needs `storage.data_keys.bind`)."""


class DataKeyGone(CryptoError):
    """Sealing for a case or student whose data key is gone (deleted, or never made)."""


@dataclass(frozen=True)
class FieldContext:
    """Where a ciphertext lives: it can only be opened in the same place."""

    table: str
    column: str
    row_id: str

    def associated_data(self) -> bytes:
        return _AAD_PREFIX + f"{self.table}\x00{self.column}\x00{self.row_id}".encode()

    def __str__(self) -> str:
        return f"{self.table}.{self.column} (row {self.row_id})"


def _decode_key(key_id: str, material: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(material.strip() + "=" * (-len(material.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigError(f"key {key_id!r} is not valid base64") from exc
    if len(raw) != _KEY_BYTES:
        raise KeyConfigError(f"key {key_id!r} must be 32 bytes, got {len(raw)}")
    return raw


def parse_key_spec(spec: str) -> list[tuple[str, bytes]]:
    """Parse 'id:base64key,id2:base64key'; the first key listed is the one that encrypts."""
    keys: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key_id, sep, material = part.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise KeyConfigError(
                "each key must look like ID:BASE64 with ID made of letters, digits, '-' or '_'"
            )
        keys.append((key_id, _decode_key(key_id, material)))
    if not keys:
        raise KeyConfigError("no keys given")
    ids = [k for k, _ in keys]
    if len(set(ids)) != len(ids):
        raise KeyConfigError("key ids must be unique")
    return keys


def new_key_material() -> str:
    """A fresh random 256-bit key, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode().rstrip("=")


def new_key_id() -> str:
    return "k" + secrets.token_hex(3)


def _seal_token(aead: AESGCM, key_id: str, plaintext: bytes, context: FieldContext) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = aead.encrypt(nonce, plaintext, context.associated_data())
    encoded = key_id.encode()
    return bytes([_FORMAT, len(encoded)]) + encoded + nonce + sealed


def _open_token(aead: AESGCM, token: bytes, context: FieldContext) -> bytes:
    start = 2 + token[1]
    nonce, sealed = token[start : start + _NONCE_BYTES], token[start + _NONCE_BYTES :]
    try:
        return aead.decrypt(nonce, sealed, context.associated_data())
    except InvalidTag as exc:
        raise DecryptionError(
            f"cannot decrypt {context}: wrong key or the value was altered or moved"
        ) from exc


def sealed_under_data_key(token: bytes) -> bool:
    """Whether a token was sealed under its row owner's data key (not the key ring)."""
    return token.startswith(DATA_KEY_PREFIX)


class OwnerKind(StrEnum):
    """Who a data key belongs to."""

    CASE = "case"
    STUDENT = "student"


@dataclass(frozen=True)
class Owner:
    """The case or student whose data key seals a row's fields."""

    kind: OwnerKind
    id: str

    def wrap_context(self) -> FieldContext:
        """Where the wrapped key lives: it unwraps for this owner only."""
        return FieldContext("data_keys", "wrapped", f"{self.kind.value}/{self.id}")


class OwnerKey:
    """One owner's data key, unwrapped: seals and opens that owner's fields only."""

    def __init__(self, material: bytes) -> None:
        self._aead = AESGCM(material)

    def encrypt(self, plaintext: bytes, context: FieldContext) -> bytes:
        return _seal_token(self._aead, DATA_KEY_ID, plaintext, context)

    def decrypt(self, token: bytes, context: FieldContext) -> bytes:
        return _open_token(self._aead, token, context)


class KeyRing:
    """Several AES-256-GCM keys by id: the first encrypts, any of them decrypts."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyConfigError("a key ring needs at least one key")
        self._keys = {key_id: AESGCM(material) for key_id, material in keys}
        self._current = keys[0][0]

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        return cls(parse_key_spec(spec))

    @property
    def current_key_id(self) -> str:
        return self._current

    def encrypt(self, plaintext: bytes, context: FieldContext) -> bytes:
        return _seal_token(self._keys[self._current], self._current, plaintext, context)

    def key_id_of(self, token: bytes) -> str:
        if len(token) < 2 or token[0] != _FORMAT:
            raise DecryptionError("not a field token of a known format")
        length = token[1]
        return token[2 : 2 + length].decode("ascii", errors="replace")

    def decrypt(self, token: bytes, context: FieldContext) -> bytes:
        key_id = self.key_id_of(token)
        if key_id == DATA_KEY_ID:
            raise DecryptionError(
                f"cannot decrypt {context}: it is sealed under its case's or student's data "
                "key, not the key ring (open it through FieldCipher)"
            )
        aead = self._keys.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"cannot decrypt {context}: key {key_id!r} is not in the key ring "
                "(add it to USS_DATA_KEYS)"
            )
        return _open_token(aead, token, context)

    def needs_rotation(self, token: bytes) -> bool:
        return self.key_id_of(token) != self._current

    def rotate(self, token: bytes, context: FieldContext) -> bytes:
        """Re-encrypt a token under the current key (like MultiFernet.rotate)."""
        return self.encrypt(self.decrypt(token, context), context)

    def new_data_key(self, owner: Owner) -> bytes:
        """A fresh random data key for `owner`, wrapped under the current key."""
        return self.encrypt(os.urandom(_KEY_BYTES), owner.wrap_context())

    def unwrap(self, wrapped: bytes, owner: Owner) -> OwnerKey:
        return OwnerKey(self.decrypt(wrapped, owner.wrap_context()))


class BlindIndex:
    """Keyed HMAC-SHA-256 digests for equality lookups without storing plaintext."""

    def __init__(self, key: bytes) -> None:
        if len(key) < _KEY_BYTES:
            raise KeyConfigError("the index key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_spec(cls, spec: str) -> BlindIndex:
        return cls(_decode_key("index", spec))

    def digest(self, purpose: str, value: str) -> str:
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class AuditKey:
    """The audit chain's own HMAC-SHA-256 key: never a data key or the index key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < _KEY_BYTES:
            raise KeyConfigError("the audit key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_spec(cls, spec: str) -> AuditKey:
        return cls(_decode_key("audit", spec))

    def mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def is_material(self, material: bytes) -> bool:
        """Whether `material` is this very key (to refuse a data or index key reused here)."""
        return hmac.compare_digest(self._key, material)


def key_material(spec: str) -> bytes:
    """The raw bytes of one base64 key setting (as USS_INDEX_KEY or USS_AUDIT_KEY hold)."""
    return _decode_key("key", spec)


def padded(plaintext: bytes, block: int, *, reserve: int = 0) -> bytes:
    """`plaintext` followed by spaces up to the next multiple of `block` bytes (at least one).

    Sealed values whose length could tell a sensitive fact (a flag, a decision, whether a row
    is real) are padded, so every token of a column has the same length. `reserve` pads as if
    the plaintext were that many bytes longer (to make two values of different lengths pad
    alike). Trailing spaces are JSON whitespace, and the values padded as plain text never
    end in a meaningful space, so opening only strips them.
    """
    wanted = max(len(plaintext) + reserve, 1)
    return plaintext + b" " * (-(-wanted // block) * block - len(plaintext))


class SealedRow(Protocol):
    """A mapped row with a table name and an id known before it is flushed."""

    __tablename__: str
    id: str


def owner_of(row: object) -> Owner | None:
    """Whose data key seals this row's fields (None: the key ring's, as for staff).

    A model names its owner with `SEALED_UNDER = (OwnerKind, column holding the owner's id)`;
    a row whose owner column is NULL (a message to no student) is sealed under the key ring.
    """
    rule: tuple[OwnerKind, str] | None = getattr(type(row), "SEALED_UNDER", None)
    if rule is None:
        return None
    kind, column = rule
    owner_id = getattr(row, column)
    return None if owner_id is None else Owner(kind, owner_id)


# Where a row keeps the OwnerKeys of the session it was loaded or bound in (storage/data_keys).
_ROW_KEYS = "_uss_owner_keys"


class OwnerKeys:
    """The data keys one session has looked up, by owner: wrapped as stored (None when the
    owner has none, or no longer), unwrapped on first use. Rows loaded or bound in that
    session carry it, so they open after the session ends."""

    def __init__(self) -> None:
        self._wrapped: dict[Owner, bytes | None] = {}
        self._open: dict[Owner, OwnerKey] = {}

    def knows(self, owner: Owner) -> bool:
        return owner in self._wrapped

    def found(self, owner: Owner, wrapped: bytes | None) -> None:
        self._wrapped[owner] = wrapped
        self._open.pop(owner, None)

    def gone(self, owner: Owner) -> None:
        self.found(owner, None)

    def key(self, owner: Owner, ring: KeyRing) -> OwnerKey | None:
        """The owner's key (None if it has none), or DataKeyNotLoaded if never looked up."""
        key = self._open.get(owner)
        if key is not None:
            return key
        if owner not in self._wrapped:
            raise DataKeyNotLoaded(
                f"the data key of {owner.kind.value} {owner.id} was not looked up in this "
                "session (bind a new row with storage.data_keys.bind before sealing it)"
            )
        wrapped = self._wrapped[owner]
        if wrapped is None:
            return None
        key = self._open[owner] = ring.unwrap(wrapped, owner)
        return key

    def attach(self, row: object) -> None:
        vars(row)[_ROW_KEYS] = self

    @staticmethod
    def of(row: object) -> OwnerKeys | None:
        found = vars(row).get(_ROW_KEYS)
        return found if isinstance(found, OwnerKeys) else None


class FieldCipher:
    """Seals and opens one row's fields; the only way models touch the keys.

    A row that belongs to a case or a student (`owner_of`) is sealed under that owner's data
    key; any other under the key ring. Tokens sealed under the key ring open either way.
    """

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    @staticmethod
    def context(row: SealedRow, column: str) -> FieldContext:
        """Bound to table, column and row; a row that belongs to a case (`SEALED_WITH_CASE`)
        is bound to its case too, so its ciphertext opens under no other case."""
        if getattr(row, "SEALED_WITH_CASE", False):
            return FieldContext(row.__tablename__, column, f"{row.case_id}/{row.id}")  # type: ignore[attr-defined]
        return FieldContext(row.__tablename__, column, row.id)

    def _owner_key(self, row: SealedRow, owner: Owner) -> OwnerKey | None:
        keys = OwnerKeys.of(row)
        if keys is None:
            raise DataKeyNotLoaded(
                f"{row.__tablename__} row {row.id} belongs to {owner.kind.value} {owner.id}, "
                "whose data key was not looked up: bind the new row with "
                "storage.data_keys.bind before sealing it"
            )
        return keys.key(owner, self.keys)

    def _encrypt(self, row: SealedRow, column: str, data: bytes) -> bytes:
        context = self.context(row, column)
        owner = owner_of(row)
        if owner is None:
            return self.keys.encrypt(data, context)
        key = self._owner_key(row, owner)
        if key is None:
            raise DataKeyGone(
                f"cannot seal {context}: {owner.kind.value} {owner.id} has no data key"
            )
        return key.encrypt(data, context)

    def _decrypt(self, row: SealedRow, column: str, token: bytes) -> bytes:
        context = self.context(row, column)
        if not sealed_under_data_key(token):
            return self.keys.decrypt(token, context)
        owner = owner_of(row)
        if owner is None:
            raise DecryptionError(f"cannot decrypt {context}: it names no case or student")
        key = self._owner_key(row, owner)
        if key is None:
            raise DecryptionError(
                f"cannot decrypt {context}: the data key of {owner.kind.value} {owner.id} "
                "is gone (destroyed when its records were deleted)"
            )
        return key.decrypt(token, context)

    def to_owner_key(self, row: SealedRow, column: str, token: bytes) -> bytes:
        """A token sealed under the key ring, sealed again under the row owner's data key
        (storage/key_split.py)."""
        return self._encrypt(row, column, self.keys.decrypt(token, self.context(row, column)))

    def seal(
        self, row: SealedRow, column: str, value: str | None, *, pad_to: int | None = None
    ) -> bytes | None:
        if value is None:
            return None
        data = value.encode("utf-8")
        if pad_to is not None:
            data = padded(data, pad_to)
        return self._encrypt(row, column, data)

    def seal_padded(self, row: SealedRow, column: str, value: str, pad_to: int) -> bytes:
        """A value padded so that its token's length says nothing about it."""
        return self._encrypt(row, column, padded(value.encode("utf-8"), pad_to))

    def open_padded(self, row: SealedRow, column: str, token: bytes) -> str:
        return self._decrypt(row, column, token).decode("utf-8").rstrip(" ")

    def open(self, row: SealedRow, column: str, token: bytes | None) -> str | None:
        if token is None:
            return None
        return self._decrypt(row, column, token).decode("utf-8")

    def seal_json(
        self,
        row: SealedRow,
        column: str,
        value: Any,
        *,
        pad_to: int | None = None,
        reserve: int = 0,
    ) -> bytes:
        data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        raw = data.encode("utf-8")
        if pad_to is not None:
            raw = padded(raw, pad_to, reserve=reserve)
        return self._encrypt(row, column, raw)

    def open_json(self, row: SealedRow, column: str, token: bytes) -> Any:
        return json.loads(self._decrypt(row, column, token))

    def seal_bytes(self, row: SealedRow, column: str, data: bytes) -> bytes:
        """Bytes as they are (a document), bound to the row and column like any field."""
        return self._encrypt(row, column, data)

    def open_bytes(self, row: SealedRow, column: str, token: bytes) -> bytes:
        return self._decrypt(row, column, token)
