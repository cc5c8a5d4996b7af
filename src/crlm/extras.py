"""Which optional part (``pip install crlm[...]``) provides a module a command needs."""

from __future__ import annotations

#: top-level module → the extra that installs it
EXTRA_OF_MODULE = {
    "fastapi": "web", "starlette": "web", "uvicorn": "web", "multipart": "web",
    "python_multipart": "web", "itsdangerous": "web", "fastapi_offline": "web",
    "httptools": "web", "uvloop": "web",
    "psycopg": "postgres", "psycopg_binary": "postgres",
    "matplotlib": "reports", "weasyprint": "reports", "docx": "reports",
    "numba": "fast", "pyarrow": "fast",
}


def missing_extra_message(exc: ImportError) -> str | None:
    """One line naming the extra to install for a missing optional module, else None."""
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    return (f"crlm: this needs the optional package '{name}': "
            f"pip install 'crlm[{extra}]' (or crlm[all])")
