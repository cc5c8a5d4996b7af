"""The ``crlm`` command. Each adapter module adds its commands; this file only assembles them.

Exit codes: 0 ok, 2 bad input (stderr names the field and why), 1 internal error.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="crlm",
    help=(
        "crlm — care and study of colorectal liver metastases.\n\n"
        "Assess one patient (scores, volumetry, MDT advice with evidence), run the survival "
        "analyses of the source papers, keep a registry and serve the web app.\n\n"
        "Start with:  crlm assess examples/synchronous_rectal.json --format markdown"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


def _print_version(value: bool) -> None:
    if value:
        from crlm import __version__

        typer.echo(f"crlm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the crlm version and exit.")] = False,
) -> None:
    """crlm — care and study of colorectal liver metastases."""


def _flags_show_no_value() -> None:
    """In ``--help``, an on/off flag shows no value type (typer 0.29 prints ``<bool>``)."""
    try:
        from typer.core import TyperOption
    except ImportError:  # another typer: its own help layout
        return
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_crlm_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        if getattr(self, "is_flag", False):
            return None
        return shown(self, ctx)

    display_type_rich._crlm_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value()


@app.command()
def version() -> None:
    """Print the crlm version."""
    from crlm import __version__

    typer.echo(__version__)


def _register_all() -> None:
    from crlm.cli import (
        audit_cmds,
        clinical_cmds,
        cohort_cmds,
        federated_cmds,
        fhir_cmds,
        registry_cmds,
        rules_cmds,
        stats_cmds,
        stats_tables_cmds,
        stats_validation_cmds,
        user_cmds,
        web_cmds,
    )

    for module in (
        clinical_cmds,
        rules_cmds,
        stats_cmds,
        stats_tables_cmds,
        stats_validation_cmds,
        registry_cmds,
        audit_cmds,
        user_cmds,
        fhir_cmds,
        web_cmds,
        cohort_cmds,
        federated_cmds,
    ):
        module.register(app)


_register_all()


#: numpy asks the kernel for transparent huge pages on every large array; where the kernel
#: compacts memory synchronously for such requests (THP ``defrag=madvise``, the usual
#: default) and memory is fragmented, the first touch of each array stalls: on a 1M-row Cox
#: fit this doubled the system time (benchmarks/RESULTS.md). The command-line process turns
#: it off unless the environment says otherwise.
HUGEPAGE_ENV = "NUMPY_MADVISE_HUGEPAGE"

#: glibc malloc: blocks up to this size come from the heap, and freed heap memory is kept for
#: reuse (M_TRIM_THRESHOLD), instead of each large array being mapped fresh from the kernel
#: and unmapped on free. A page fault costs microseconds (more in a virtual machine): on a
#: 1M-row ``crlm stats cox`` this cut the system time from 0.76-1.10 s to 0.57-0.62 s and
#: the wall time by 0.2-0.5 s. 32 MiB is glibc's ceiling for the mmap threshold on 64-bit.
MALLOC_HEAP_MAX_BLOCK = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
#: the commands that analyse large numeric arrays in one short process — where this was
#: measured. Not the server (it gives memory back) nor the registry's long imports, whose
#: bounded memory was measured with glibc's defaults.
KEEP_FREED_MEMORY_FOR = frozenset({"stats", "analyze", "federated"})

#: OpenBLAS threads (numpy's BLAS in its wheels). Its worker threads spin between calls; the
#: analyses' BLAS products are matrix-vector or p × p (memory-bound, p small), while their
#: C loops and the CSV reader already run on the other cores. ``crlm stats``, ``analyze`` and
#: ``federated`` therefore keep BLAS on one thread unless the environment says otherwise:
#: a 1M-row ``crlm stats cox``, alternated 6 times, 2.08 → 1.79 s wall, 2.04 → 1.69 s user
#: CPU (2 cores, 2026-11-30). Read when numpy is first imported.
BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse in this short-lived process; False
    where the C library has no ``mallopt`` (musl, macOS, Windows) or refuses."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return (mallopt(_M_MMAP_THRESHOLD, MALLOC_HEAP_MAX_BLOCK) == 1
            and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1)


def _only_the_group_invoked(argv: list[str]) -> None:
    """Build only the command group the command line names (``crlm stats cox …`` → ``stats``;
    ``crlm assess …`` → none; ``crlm --help``: the groups' names and help texts only): typer
    builds every command's parameters before it parses, a few hundredths of a second of
    start-up per run. With another option first or a name crlm does not know, every group
    stays (click's suggestions)."""
    if argv in ([], ["--help"]):  # the overview: each group's name and help text suffice
        listing = typer.Typer()
        for group in app.registered_groups:
            listing.add_typer(typer.Typer(help=group.typer_instance.info.help,
                                          no_args_is_help=True), name=group.name)
        app.registered_groups[:] = listing.registered_groups
        return
    if argv[0].startswith("-"):
        return
    groups = {g.name: g for g in app.registered_groups}
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in
                app.registered_commands}
    if argv[0] in groups:
        app.registered_groups[:] = [groups[argv[0]]]
    elif argv[0] in commands:
        app.registered_groups.clear()


def main() -> None:
    """Console-script entry point: map unexpected exceptions to exit code 1.

    On the way out the objects still alive are frozen out of the garbage collector: the
    interpreter's last collection would otherwise walk everything the command imported
    (pandas, scipy: 0.13-0.15 s of a ``crlm stats`` run's exit), only for the process to end.
    Output files are closed by the commands themselves, not by that collection.
    """
    os.environ.setdefault(HUGEPAGE_ENV, "0")  # read when numpy is first imported
    argv = sys.argv[1:]
    if argv and argv[0] in KEEP_FREED_MEMORY_FOR:
        keep_freed_memory()
        os.environ.setdefault(BLAS_THREADS_ENV, "1")
    _only_the_group_invoked(argv)
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # last-resort guard; a missing optional part says which
        from crlm.extras import missing_extra_message

        message = isinstance(exc, ImportError) and missing_extra_message(exc)
        print(message or f"crlm: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
    finally:
        gc.freeze()
