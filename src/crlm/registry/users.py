"""Registry users: roles and argon2id password hashes."""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crlm.registry.models import User

MIN_PASSWORD_CHARS = 12
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("crlm-dummy-password-for-timing")


class Role(StrEnum):
    clinician = "clinician"  # reads and writes its own centre's patients
    researcher = "researcher"  # de-identified analyses only
    admin = "admin"  # users and audit


class UserError(ValueError):
    """A user cannot be created as asked (the message says why)."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; rejects passwords shorter than 12 characters."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def add_user(
    session: Session, username: str, password: str, role: str, centre: str | None = None
) -> User:
    """Create a user (flushes; the caller commits)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise UserError("username must have 1 to 64 characters")
    try:
        role_value = Role(role).value
    except ValueError:
        raise UserError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if role_value == Role.clinician and not centre:
        raise UserError("a clinician needs a centre")
    if get_user(session, username) is not None:
        raise UserError(f"user {username!r} exists already")
    user = User(
        username=username, password_hash=hash_password(password), role=role_value,
        centre=centre or None, active=True,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    """The user with this username, or None."""
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    """All users by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user if the password matches, else None; upgrades old hash parameters."""
    user = get_user(session, username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """Replace a user's password (flushes; the caller commits)."""
    user = get_user(session, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    user.password_hash = hash_password(password)
    session.flush()
