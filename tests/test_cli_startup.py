"""Start-up and CLI polish: no heavy import at start, --version, choices in --help, extras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crlm
from crlm.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "sqlalchemy", "numba", "pyarrow", "fastapi")
runner = CliRunner()


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.split()


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after("import crlm.cli") == []


def test_assess_and_help_load_no_heavy_library() -> None:
    run = ("import sys\nfrom crlm.cli import app\nfrom typer.testing import CliRunner\n"
           "r = CliRunner().invoke(app, {args!r})\nassert r.exit_code == 0, r.output")
    assert _loaded_after(run.format(args=["assess", str(EXAMPLES / "conversion.json")])) == []
    assert _loaded_after(run.format(args=["stats", "cox", "--help"])) == []


def test_version_option() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"crlm {crlm.__version__}"


def test_help_shows_choices_and_flags_without_a_value() -> None:
    assess = runner.invoke(app, ["assess", "--help"], env={"COLUMNS": "200"}).output
    assert "<mosteller|dubois>" in assess and "<bsa|weight>" in assess
    cox = runner.invoke(app, ["stats", "cox", "--help"], env={"COLUMNS": "200"}).output
    assert "<efron|breslow>" in cox and "<profile|wald>" in cox
    assert "<bool>" not in cox and "<bool>" not in assess
    assert "--robust" in cox


def test_a_bad_choice_is_exit_2_naming_the_option() -> None:
    result = runner.invoke(app, ["assess", str(EXAMPLES / "conversion.json"), "--bsa", "x"])
    assert result.exit_code == 2
    assert "--bsa" in result.stderr


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    code = ("import sys\nsys.modules['weasyprint'] = None\nfrom crlm.cli import main\n"
            f"sys.argv = ['crlm', 'assess', {str(EXAMPLES / 'conversion.json')!r}, "
            f"'--format', 'pdf', '--out', {str(tmp_path / 'a.pdf')!r}]\nmain()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("crlm: this needs the optional package 'weasyprint': "
                                   "pip install 'crlm[reports]' (or crlm[all])")


def test_cli_choices_are_the_analyses_choices() -> None:
    from typing import get_args

    from crlm.reports.score_validation import TIME_UNITS_PER_YEAR
    from crlm.stats.defaults import ConfType, TimeUnit
    from crlm.stats.survival import CONF_TYPES

    assert set(get_args(TimeUnit)) == set(TIME_UNITS_PER_YEAR)
    assert get_args(ConfType) == CONF_TYPES
    km = runner.invoke(app, ["stats", "km", "--help"], env={"COLUMNS": "200"}).output
    assert "<log|log-log|plain|logit|arcsin>" in km


def _after_main(argv: list[str], then: str, *, before: str = "",
                env: dict[str, str | None] | None = None) -> str:
    """The last word printed by ``then`` in a fresh process that ran ``main()`` with ``argv``
    (``before`` runs first; ``env`` sets variables, ``None`` removes one)."""
    import os

    probe = (f"import gc, os, sys\nimport crlm.cli as cli\n{before}\n"
             f"sys.argv = ['crlm', *{argv!r}]\n"
             f"try:\n    cli.main()\nexcept SystemExit:\n    pass\n{then}")
    environ = dict(os.environ)
    for name, value in (env or {}).items():
        environ.pop(name, None)
        if value is not None:
            environ[name] = value
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, env=environ)
    return done.stdout.split()[-1]


def _numpy_hugepage_after_main(env_value: str | None) -> str:
    """numpy's huge-page setting in a process that ran ``crlm --version`` via ``main()``."""
    return _after_main(["--version"],
                       "import numpy\nprint(numpy._core.multiarray._set_madvise_hugepage(False))",
                       env={"NUMPY_MADVISE_HUGEPAGE": env_value})


def test_cli_turns_numpy_huge_pages_off_unless_told_otherwise() -> None:
    assert _numpy_hugepage_after_main(None) == "False"
    assert _numpy_hugepage_after_main("1") == "True"


def test_fixed_choices_are_listed_in_help_and_refused_otherwise() -> None:
    from typing import get_args

    from crlm.cli.rules_cmds import RulesFormat
    from crlm.clinical.rules.catalogue import FORMATS

    assert get_args(RulesFormat) == FORMATS
    for args, shown in ((["rules", "--help"], "text|markdown|json"),
                        (["stats", "regression", "--help"], "cox|logistic"),
                        (["db", "export", "--help"],
                         "last_hepatectomy|first_hepatectomy|diagnosis")):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert shown in result.output.replace(" ", ""), args
    refused = runner.invoke(app, ["rules", "--format", "html"])
    assert refused.exit_code == 2
    assert "html" in refused.output


def _main_output(*args: str) -> str:
    """What ``crlm ARGS`` prints through the console entry point (a process of its own)."""
    import os

    probe = ("import sys\nsys.argv = ['crlm', *sys.argv[1:]]\nfrom crlm.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                          text=True, timeout=60, env=os.environ | {"COLUMNS": "100"})
    return done.stdout + done.stderr


def test_the_entry_point_builds_only_what_the_command_line_names_with_the_same_output() -> None:
    """main() builds the invoked group only (or, for the overview, the groups' help texts):
    the output is the one of the fully built app."""
    for args in (["--help"], [], ["stats", "--help"], ["rules", "--help"],
                 ["stats", "cox", "--help"], ["db", "export", "--help"], ["nosuch"],
                 ["stats", "nosuch"]):
        full = runner.invoke(app, args, env={"COLUMNS": "100"})
        assert _main_output(*args) == full.output, args
    assert "crlm 0" in _main_output("--version")


def test_the_overview_help_loads_no_pydantic() -> None:
    """pydantic (≈ 0.04 s) is loaded by the commands that validate, not by ``crlm --help``."""
    probe = ("import sys\nsys.argv = ['crlm', '--help']\nfrom crlm.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('LOADED' if 'pydantic' in sys.modules else 'CLEAN', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.stderr.strip().endswith("CLEAN"), done.stderr


def test_main_freezes_the_objects_left_on_exit_out_of_the_last_collection() -> None:
    """The interpreter's last collection would walk every object the command imported."""
    assert int(_after_main(["--version"], "print(gc.get_freeze_count())")) > 1000


def _kept_freed_memory(*argv: str) -> bool:
    return _after_main(list(argv), "print(len(calls))", before="calls = []\n"
                       "cli.keep_freed_memory = lambda: calls.append(1)") == "1"


def test_analyses_keep_freed_memory_for_reuse_but_the_server_and_registry_do_not() -> None:
    assert _kept_freed_memory("stats", "--help")
    assert _kept_freed_memory("analyze", "--help")
    assert not _kept_freed_memory("serve", "--help")
    assert not _kept_freed_memory("db", "--help")
    assert not _kept_freed_memory("--version")


def test_analyses_keep_blas_on_one_thread_unless_told_otherwise() -> None:
    probe = "import numpy\nprint(os.environ.get('OPENBLAS_NUM_THREADS', 'unset'))"
    unset = {"OPENBLAS_NUM_THREADS": None}
    assert _after_main(["stats", "--help"], probe, env=unset) == "1"
    assert _after_main(["analyze", "--help"], probe, env=unset) == "1"
    assert _after_main(["serve", "--help"], probe, env=unset) == "unset"
    assert _after_main(["stats", "--help"], probe, env={"OPENBLAS_NUM_THREADS": "2"}) == "2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_accepts_the_malloc_settings() -> None:
    probe = "from crlm.cli import keep_freed_memory\nprint(keep_freed_memory())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split()[-1] == "True"
