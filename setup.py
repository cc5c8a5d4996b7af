"""The one compiled part of crlm: Harrell's C pair counts in C (crlm.stats._cloops).

Everything else is declared in pyproject.toml. The extension is optional: without a C
compiler the install goes on and crlm counts the pairs with numba or numpy instead
(crlm.stats._kernels), with the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("crlm.stats._cloops", ["src/crlm/stats/_cloops.c"],
                             optional=True)])
