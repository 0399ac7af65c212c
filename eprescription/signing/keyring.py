"""The key-encryption keys by key id: the current one for new material, older ones to read."""

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

KEY_LENGTH = 32
# The id of a lone KEY_ENCRYPTION_KEY, and of all material stored before keys had ids.
DEFAULT_KEY_ID = "k1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class UnknownKeyId(LookupError):
    """Stored material names a key id the keyring does not hold (removed too early?)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no key-encryption key with id {key_id!r} in the keyring")
        self.key_id = key_id


def is_valid_key_id(key_id: str) -> bool:
    """1 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."""
    return isinstance(key_id, str) and KEY_ID_PATTERN.fullmatch(key_id) is not None


@dataclass(frozen=True)
class Keyring:
    """32-byte keys by id; `current_id` names the one that wraps and seals new material."""

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise ValueError(f"the current key id {self.current_id!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not is_valid_key_id(key_id):
                raise ValueError(f"not a valid key id: {key_id!r}")
            if len(key) != KEY_LENGTH:
                raise ValueError(f"the key {key_id!r} is not {KEY_LENGTH} bytes")
        if len(set(self.keys.values())) != len(self.keys):
            raise ValueError("the same key appears under two ids")

    @classmethod
    def of_one(cls, key: bytes, key_id: str = DEFAULT_KEY_ID) -> "Keyring":
        return cls(key_id, {key_id: key})

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def key(self, key_id: str) -> bytes:
        """The key named `key_id`, or UnknownKeyId."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyId(key_id) from None

    @property
    def older_ids(self) -> tuple[str, ...]:
        """The ids still readable but no longer used for new material."""
        return tuple(key_id for key_id in self.keys if key_id != self.current_id)

    def next_id(self) -> str:
        """A fresh id for the next key: k<n+1> after the highest k<n> in the ring."""
        numbers = [int(key_id[1:]) for key_id in self.keys if re.fullmatch(r"k[0-9]{1,9}", key_id)]
        return f"k{max(numbers, default=0) + 1}"


def new_key() -> bytes:
    """32 random bytes for a new key-encryption key."""
    return secrets.token_bytes(KEY_LENGTH)
