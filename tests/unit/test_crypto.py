"""The key ring and blind index: AEAD bound to its place, rotation, clear errors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.crypto import (
    DATA_KEY_ID,
    BlindIndex,
    DecryptionError,
    FieldCipher,
    FieldContext,
    KeyConfigError,
    KeyRing,
    Owner,
    OwnerKind,
    new_key_material,
    padded,
    parse_key_spec,
    sealed_under_data_key,
)

HERE = FieldContext("students", "name_enc", "row1")


def ring(*ids: str) -> KeyRing:
    return KeyRing([(i, parse_key_spec(f"{i}:{new_key_material()}")[0][1]) for i in ids])


@given(st.binary(max_size=2000))
def test_round_trip_any_bytes(plaintext: bytes) -> None:
    keys = ring("a")
    assert keys.decrypt(keys.encrypt(plaintext, HERE), HERE) == plaintext


def test_same_plaintext_encrypts_differently_each_time() -> None:
    keys = ring("a")
    assert keys.encrypt(b"Sam", HERE) != keys.encrypt(b"Sam", HERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        FieldContext("staff", "name_enc", "row1"),
        FieldContext("students", "other_enc", "row1"),
        FieldContext("students", "name_enc", "row2"),
    ],
)
def test_ciphertext_moved_to_another_table_column_or_row_does_not_decrypt(
    elsewhere: FieldContext,
) -> None:
    keys = ring("a")
    token = keys.encrypt(b"secret", HERE)
    with pytest.raises(DecryptionError, match="altered or moved"):
        keys.decrypt(token, elsewhere)


def test_tampered_ciphertext_is_an_error_not_garbage() -> None:
    keys = ring("a")
    token = bytearray(keys.encrypt(b"secret", HERE))
    token[-1] ^= 1
    with pytest.raises(DecryptionError):
        keys.decrypt(bytes(token), HERE)


def test_wrong_key_is_a_clear_error_naming_the_setting() -> None:
    token = ring("a").encrypt(b"secret", HERE)
    with pytest.raises(DecryptionError, match="USS_DATA_KEYS"):
        ring("b").decrypt(token, HERE)


def test_error_messages_never_contain_the_plaintext() -> None:
    token = ring("a").encrypt(b"Canary-Name-XYZ", HERE)
    with pytest.raises(DecryptionError) as caught:
        ring("b").decrypt(token, HERE)
    assert "Canary" not in str(caught.value)


def test_newest_key_encrypts_and_old_keys_still_decrypt() -> None:
    old_material = new_key_material()
    old = KeyRing(parse_key_spec(f"old:{old_material}"))
    token = old.encrypt(b"kept", HERE)
    both = KeyRing(parse_key_spec(f"new:{new_key_material()},old:{old_material}"))
    assert both.decrypt(token, HERE) == b"kept"
    assert both.needs_rotation(token)
    rotated = both.rotate(token, HERE)
    assert both.key_id_of(rotated) == "new"
    assert not both.needs_rotation(rotated)
    assert both.decrypt(rotated, HERE) == b"kept"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no keys"),
        ("nocolon", "ID:BASE64"),
        ("a:notbase64!!", "32 bytes|base64"),
        ("a:" + "QUFB", "32 bytes"),
        (f"a:{new_key_material()},a:{new_key_material()}", "unique"),
    ],
)
def test_malformed_key_specs_are_refused_clearly(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        parse_key_spec(spec)


def test_blind_index_is_stable_keyed_and_separated_by_purpose() -> None:
    key = new_key_material()
    one, same, other = (
        BlindIndex.from_spec(key),
        BlindIndex.from_spec(key),
        BlindIndex.from_spec(new_key_material()),
    )
    assert one.digest("telegram", "42") == same.digest("telegram", "42")
    assert one.digest("telegram", "42") != other.digest("telegram", "42")
    assert one.digest("telegram", "42") != one.digest("student-number", "42")
    digest = one.digest("telegram", "42")
    assert len(digest) == 64
    # Keyed: not the plain hash an attacker could compute for every possible Telegram id.
    assert digest not in {
        hashlib.sha256(b"42").hexdigest(),
        hashlib.sha256(b"telegram\x0042").hexdigest(),
    }


class _Row:
    __tablename__ = "students"
    id = "row1"


@given(st.sampled_from(["", "yes", "no"]), st.sampled_from(["", "yes", "no"]))
def test_padded_values_of_a_column_seal_to_one_length_and_open_exactly(a: str, b: str) -> None:
    cipher = FieldCipher(ring("a"))
    first, second = (cipher.seal_padded(_Row(), "removed_enc", v, 16) for v in (a, b))
    assert len(first) == len(second)
    assert cipher.open_padded(_Row(), "removed_enc", first) == a


@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=8))
def test_padding_reaches_the_next_whole_block(size: int, reserve: int) -> None:
    out = padded(b"x" * size, 1024, reserve=reserve)
    assert len(out) % 1024 == 0 and len(out) >= max(size + reserve, 1)
    assert out.rstrip(b" ") == b"x" * size


def test_reserve_makes_yes_and_no_pad_alike_at_a_block_edge() -> None:
    no, yes = b"x" * 1022 + b"no", b"x" * 1022 + b"yes"
    assert len(padded(no, 1024, reserve=1)) == len(padded(yes, 1024)) == 2048


def test_no_key_of_the_ring_can_take_the_data_keys_id() -> None:
    with pytest.raises(KeyConfigError):
        parse_key_spec(f"{DATA_KEY_ID}:{new_key_material()}")


def test_a_data_key_unwraps_for_its_own_owner_only_and_its_tokens_say_so() -> None:
    keys = ring("a")
    case = Owner(OwnerKind.CASE, "c1")
    wrapped = keys.new_data_key(case)
    token = keys.unwrap(wrapped, case).encrypt(b"secret", HERE)
    assert sealed_under_data_key(token) and keys.key_id_of(token) == DATA_KEY_ID
    assert keys.unwrap(wrapped, case).decrypt(token, HERE) == b"secret"
    with pytest.raises(DecryptionError):
        keys.unwrap(wrapped, Owner(OwnerKind.CASE, "c2"))
    with pytest.raises(DecryptionError):
        keys.unwrap(wrapped, Owner(OwnerKind.STUDENT, "c1"))
    # The ring itself never opens it, and says why.
    with pytest.raises(DecryptionError, match="data key"):
        keys.decrypt(token, HERE)
    assert not sealed_under_data_key(keys.encrypt(b"secret", HERE))
