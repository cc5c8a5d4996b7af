"""Registry users: roles, argon2id password hashes and the account lifecycle.

Usernames are stored normalised (:func:`crlm.registry.passwords.normalise_username`) and every
lookup normalises the name it is given. Each change that must end a user's sessions and API
tokens (password, role, centre, deactivation, "log out everywhere") raises ``generation``;
sessions and tokens carry the id and generation they were issued for, and raises the shared
``auth_epoch`` counter in the same transaction, so that every web worker empties its user cache
within its revocation check interval (:mod:`crlm.web.revocation`). Functions flush; the caller
commits.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from crlm.registry import passwords
from crlm.registry.models import SharedState, User
from crlm.registry.passwords import PolicyError, normalise_username, password_problem

MIN_PASSWORD_CHARS = passwords.MIN_PASSWORD_CHARS

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("crlm-dummy-password-for-timing")
#: Random characters of a one-time password from ``reset_password`` (URL-safe base64).
ONE_TIME_PASSWORD_BYTES = 15
#: A new user's generation starts at a random value below this bound, so that a session or
#: token signed for an earlier database under the same key (a re-created ``crlm.db`` whose
#: ids start again at 1) does not match the new user who got the same id.
GENERATION_START_BOUND = 1 << 30


class Role(StrEnum):
    clinician = "clinician"  # reads and writes its own centre's patients
    researcher = "researcher"  # de-identified analyses only
    admin = "admin"  # users and audit


class UserError(ValueError):
    """A user cannot be created or changed as asked (the message says why)."""


def hash_password(password: str, username: str = "") -> str:
    """An argon2id hash of ``password``; UserError when the password fails the policy."""
    problem = password_problem(password, (username,) if username else ())
    if problem:
        raise UserError(problem)
    return _hasher.hash(password)


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def _check_centre(role: Role, centre: str | None) -> None:
    if role == Role.clinician and not centre:
        raise UserError("a clinician needs a centre")


def add_user(
    session: Session, username: str, password: str, role: str, centre: str | None = None
) -> User:
    """Create a user (flushes; the caller commits)."""
    try:
        name = normalise_username(username)
    except PolicyError as exc:
        raise UserError(str(exc)) from None
    role_value = _role(role)
    _check_centre(role_value, centre)
    if get_user(session, name) is not None:
        raise UserError(f"user {name!r} exists already")
    user = User(
        username=name, password_hash=hash_password(password, name), role=role_value.value,
        centre=centre or None, active=True, must_change_password=False,
        generation=secrets.randbelow(GENERATION_START_BOUND) + 1,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    """The user with this username (normalised first), or None."""
    try:
        name = normalise_username(username)
    except PolicyError:
        return None
    return session.scalar(select(User).where(User.username == name))


def get_user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def require_user(session: Session, username: str) -> User:
    """The user ``username``; UserError when there is none."""
    user = get_user(session, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    """All users by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user if the password matches, else None; upgrades old hash parameters.

    An unknown username costs the same argon2 verification as a known one.
    """
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


AUTH_EPOCH = "auth_epoch"


def bump_auth_epoch(session: Session) -> None:
    """Raise the shared revocation counter (in the caller's transaction)."""
    session.execute(
        update(SharedState).where(SharedState.name == AUTH_EPOCH)
        .values(value=SharedState.value + 1)
    )


def read_auth_epoch(conn: Connection | Session) -> int:
    """The shared revocation counter (0 when the row is missing)."""
    value = conn.execute(
        select(SharedState.value).where(SharedState.name == AUTH_EPOCH)
    ).scalar()
    return int(value or 0)


def _revoke(session: Session, user: User) -> None:
    user.generation = (user.generation or 0) + 1
    bump_auth_epoch(session)


def revoke_sessions(session: Session, username: str) -> User:
    """End every session and API token of the user ("log out everywhere")."""
    user = require_user(session, username)
    _revoke(session, user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Replace a user's password; ends their other sessions and tokens."""
    user = require_user(session, username)
    user.password_hash = hash_password(password, user.username)
    user.must_change_password = False
    _revoke(session, user)
    session.flush()
    return user


def reset_password(session: Session, username: str) -> str:
    """Give the user a random one-time password (returned), to be changed at the next login."""
    user = require_user(session, username)
    password = secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
    user.password_hash = _hasher.hash(password)
    user.must_change_password = True
    _revoke(session, user)
    session.flush()
    return password


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(
            User.role == Role.admin.value, User.active.is_(True), User.id != user.id
        )
    ) or 0


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    if user.role == Role.admin and user.active and not _other_active_admins(session, user):
        raise UserError(f"cannot {what} the last active admin")


def set_active(session: Session, username: str, active: bool) -> User:
    """Enable or disable a user; disabling ends their sessions and tokens at once."""
    user = require_user(session, username)
    if not active:
        _keep_an_admin(session, user, "disable")
    if user.active != active:
        user.active = active
        _revoke(session, user)
    session.flush()
    return user


def set_role(
    session: Session, username: str, role: str, centre: str | None = None
) -> User:
    """Change a user's role (and centre; None keeps the current one); ends their sessions."""
    user = require_user(session, username)
    new_role = _role(role)
    new_centre = user.centre if centre is None else (centre.strip() or None)
    _check_centre(new_role, new_centre)
    if new_role != Role.admin:
        _keep_an_admin(session, user, "change the role of")
    if (user.role, user.centre) != (new_role.value, new_centre):
        user.role = new_role.value
        user.centre = new_centre
        _revoke(session, user)
    session.flush()
    return user


def delete_user(session: Session, username: str) -> None:
    """Delete a user; their id is never given to another user, so their tokens stay dead."""
    user = require_user(session, username)
    _keep_an_admin(session, user, "delete")
    session.delete(user)
    bump_auth_epoch(session)
    session.flush()
