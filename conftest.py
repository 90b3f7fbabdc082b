"""Keep every pytest run (tests/ and the nbval notebooks) away from the user's store and profile.

``JUPYTER_THINK_STORE`` is removed from the environment; when ``JUPYTER_THINK_DIR`` is not set, point it at a fresh temporary directory for the whole run,
and always give the run a fresh, empty ``IPYTHONDIR`` and ``JUPYTER_DATA_DIR`` (where the spill files of
changes a store refused at exit are kept): kernels started by nbval, nbclient or the
test harnesses inherit both, so the notebooks run on a fresh kernel (no profile that auto-loads
extensions or runs startup files) and never read or write the user's real sessions. Both
directories are removed at the end of the run. Tests that need their own store or profile still
set ``JUPYTER_THINK_DIR`` / ``IPYTHONDIR`` themselves.
"""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.pop(
    "JUPYTER_THINK_STORE", None
)  # a shared store of the user's must never see a test (tests set their own)
_created = [tempfile.mkdtemp(prefix="jupyter-think-pytest-ipython-")]
os.environ["IPYTHONDIR"] = _created[0]
_created.append(tempfile.mkdtemp(prefix="jupyter-think-pytest-data-"))
os.environ["JUPYTER_DATA_DIR"] = _created[-1]
if not os.environ.get("JUPYTER_THINK_DIR"):
    _created.append(tempfile.mkdtemp(prefix="jupyter-think-pytest-store-"))
    os.environ["JUPYTER_THINK_DIR"] = _created[-1]


def pytest_unconfigure(config: object) -> None:
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)
