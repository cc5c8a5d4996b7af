"""CLI adapter: the account lifecycle, ``crlm user passwd|disable|enable|role|delete|...``.

The commands join the ``crlm user`` group of :mod:`crlm.cli.registry_cmds` (which holds
``crlm user add``). Each change is audited; those that end a user's sessions and API tokens do
so at once in the registry, and every worker of a running server refuses them within its
revocation check interval (1 s by default, CRLM_REVOCATION_CHECK_S).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input
from crlm.cli.registry_cmds import ActorOption, DbOption, _session, user_app

NameArgument = Annotated[str, typer.Argument(help="Login name of the user.")]
DEFAULT_ACTOR = os.environ.get("USER", "cli")


def _change(
    db: str | None,
    actor: str,
    username: str,
    change: Callable[..., object],
    detail: str,
    action: str = "update",
) -> object:
    """Run ``change(session, username)``, audit it and commit; exit 2 on a refused change."""
    from crlm.registry import audit, users

    with _session(db) as session:
        try:
            name = users.require_user(session, username).username
            result = change(session, name)
        except users.UserError as exc:
            fail_bad_input(str(exc))
        audit.record(session, actor=actor, action=action, entity="user", entity_id=name,
                     detail=f"{detail} (cli)")
        session.commit()
    return result


def _read_new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    password = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != password:
        fail_bad_input("password: the two entries differ")
    return password


@user_app.command("list")
def user_list(db: DbOption = None) -> None:
    """List users: name, role, centre, status."""
    from crlm.registry import users

    with _session(db) as session:
        for u in users.list_users(session):
            status = "disabled" if not u.active else (
                "must choose a new password" if u.must_change_password else "active"
            )
            typer.echo(f"{u.username}\t{u.role}\t{u.centre or '-'}\t{status}")


@user_app.command("passwd")
def user_passwd(
    username: NameArgument,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
    db: DbOption = None,
    actor: ActorOption = DEFAULT_ACTOR,
) -> None:
    """Set a user's password (prompted for); their sessions and API tokens end."""
    from crlm.registry import users

    password = _read_new_password(password_stdin)
    _change(db, actor, username, lambda s, n: users.set_password(s, n, password), "password set")
    typer.echo(f"password of {username} changed; their sessions and API tokens have ended")


@user_app.command("disable")
def user_disable(username: NameArgument, db: DbOption = None,
                 actor: ActorOption = DEFAULT_ACTOR) -> None:
    """Disable a user: no login, and their sessions and API tokens end."""
    from crlm.registry import users

    _change(db, actor, username, lambda s, n: users.set_active(s, n, False), "disabled")
    typer.echo(f"{username} disabled")


@user_app.command("enable")
def user_enable(username: NameArgument, db: DbOption = None,
                actor: ActorOption = DEFAULT_ACTOR) -> None:
    """Enable a disabled user again."""
    from crlm.registry import users

    _change(db, actor, username, lambda s, n: users.set_active(s, n, True), "enabled")
    typer.echo(f"{username} enabled")


@user_app.command("role")
def user_role(
    username: NameArgument,
    role: Annotated[str, typer.Argument(help="clinician, researcher or admin.")],
    centre: Annotated[
        str | None, typer.Option(help="Centre (required for clinicians; default: unchanged).")
    ] = None,
    db: DbOption = None,
    actor: ActorOption = DEFAULT_ACTOR,
) -> None:
    """Change a user's role (and centre); their sessions and API tokens end."""
    from crlm.registry import users

    _change(db, actor, username, lambda s, n: users.set_role(s, n, role, centre),
            f"role={role} centre={centre or '(unchanged)'}")
    typer.echo(f"{username} is now {role}")


@user_app.command("delete")
def user_delete(
    username: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
    actor: ActorOption = DEFAULT_ACTOR,
) -> None:
    """Delete a user (their tokens never work again, not even for a new user of that name)."""
    from crlm.registry import users

    if not yes and not typer.confirm(f"delete user {username}?"):
        fail_bad_input("not confirmed: nothing deleted")
    _change(db, actor, username, users.delete_user, "user deleted", action="delete")
    typer.echo(f"{username} deleted")


@user_app.command("reset-password")
def user_reset_password(username: NameArgument, db: DbOption = None,
                        actor: ActorOption = DEFAULT_ACTOR) -> None:
    """Print a new one-time password; the user must choose a new one when logging in."""
    from crlm.registry import users

    password = _change(db, actor, username, users.reset_password, "one-time password issued")
    typer.echo(
        f"one-time password for {username} (shown once; they choose a new one at login):\n"
        f"  {password}"
    )


@user_app.command("logout-everywhere")
def user_logout_everywhere(username: NameArgument, db: DbOption = None,
                           actor: ActorOption = DEFAULT_ACTOR) -> None:
    """End every session and API token of a user."""
    from crlm.registry import users

    _change(db, actor, username, users.revoke_sessions, "every session and token ended")
    typer.echo(f"every session and API token of {username} has ended")


def register(app: typer.Typer) -> None:
    """Nothing to add: the commands above join ``crlm user`` when this module is imported."""
