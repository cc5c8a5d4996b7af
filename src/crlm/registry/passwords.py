"""Password policy and username normalisation of registry users (pure checks, no database).

Passwords: at least :data:`MIN_PASSWORD_CHARS` characters, not in the shipped list of common
passwords (``data/common_passwords.txt``), and a zxcvbn score of at least
:data:`MIN_STRENGTH_SCORE` (≈ 10⁸ guesses) with the username among the known words.
Usernames: NFKC, case-folded, trimmed; no control, format (invisible) or whitespace character.
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

MIN_PASSWORD_CHARS = 12
MAX_USERNAME_CHARS = 64
#: zxcvbn score 0–4; 3 = "safely unguessable: moderate protection from an offline slow-hash
#: attack" (≥ 10⁸ guesses).
MIN_STRENGTH_SCORE = 3
#: zxcvbn's matching is quadratic in the length: only this prefix is scored. A prefix is never
#: stronger than the whole, so the check stays conservative.
STRENGTH_PREFIX_CHARS = 100
#: Unicode categories refused in a username: controls, format (zero-width, bidi), surrogates,
#: private use, unassigned, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class PolicyError(ValueError):
    """A username or password does not meet the policy (the message says why)."""


def normalise_username(raw: str) -> str:
    """The canonical form of a login name (NFKC, case-folded, trimmed); PolicyError if invalid."""
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold()).strip()
    if not name or len(name) > MAX_USERNAME_CHARS:
        raise PolicyError(f"a username has 1 to {MAX_USERNAME_CHARS} characters")
    for char in name:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise PolicyError("a username cannot contain invisible or control characters")
        if char.isspace():
            raise PolicyError("a username cannot contain spaces")
    return name


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, case-folded."""
    text = resources.files("crlm.registry").joinpath("data/common_passwords.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(
        line.strip().casefold() for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` is refused, or None when it meets the policy."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"password must have at least {MIN_PASSWORD_CHARS} characters"
    if not password.strip():
        return "password cannot be only spaces"
    folded = password.casefold()
    if folded in common_passwords() or "".join(folded.split()) in common_passwords():
        return "password is on the list of common passwords; choose another"
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:STRENGTH_PREFIX_CHARS], user_inputs=[*user_inputs, "crlm"])
    if result["score"] < MIN_STRENGTH_SCORE:
        hint = (result.get("feedback") or {}).get("warning") or "it is easy to guess"
        return (
            f"password is too weak ({hint.rstrip('.')}); use a few unrelated words or a longer, "
            "less predictable password"
        )
    return None
