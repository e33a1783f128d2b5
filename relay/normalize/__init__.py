"""Contact-detail normalisation and SHA-256 hashing, one function per field, shared by all connectors.

The public entry point. The field rules live in :mod:`relay.normalize.contact` (e-mail, names, gender,
address, ids), :mod:`relay.normalize.phone` (libphonenumber), :mod:`relay.normalize.birthdate` (written
dates in the relay's markets, with :mod:`relay.normalize.monthnames`) and :mod:`relay.normalize.geo`
(ISO 3166 countries and US states); :mod:`relay.normalize.hashing` hashes their results. The rules are Meta's
documented ones (they win over Meta's SDKs where the two disagree).
"""

from __future__ import annotations

from relay.normalize.birthdate import normalize_date_of_birth
from relay.normalize.contact import (
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_madid,
    normalize_name,
    normalize_state,
    normalize_zip,
)
from relay.normalize.hashing import (
    HashedUser,
    digest_of,
    google_email,
    hash_user,
    is_hashed,
    member_from_row,
    reddit_email,
    sha256_hex,
)
from relay.normalize.phone import normalize_phone

__all__ = [
    "HashedUser",
    "digest_of",
    "google_email",
    "hash_user",
    "is_hashed",
    "member_from_row",
    "normalize_city",
    "normalize_country",
    "normalize_date_of_birth",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_madid",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_zip",
    "reddit_email",
    "sha256_hex",
]
