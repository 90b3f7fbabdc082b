"""Re-run the repository's notebooks from the top on a fresh store and save them with their outputs.

nbval compares the outputs stored in a notebook with a fresh run, so after a change that alters
what a notebook shows, run this (from the repository's root) and commit the notebooks::

    .venv/bin/python notebooks/refresh.py                 # every notebook
    .venv/bin/python notebooks/refresh.py tour.ipynb      # one

Each notebook runs in a fresh kernel with an empty store (``JUPYTER_THINK_DIR``) and an empty
IPython directory, as under nbval. Execution times and widget model ids are left out of the saved
file, so a refresh that changes no output changes no byte.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ["tour.ipynb", "teaching.ipynb", "agent_experiment.ipynb"]


def refresh(path: Path) -> None:
    """Execute ``path`` in place on a fresh store; strip what changes from run to run."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="think-refresh-") as scratch:
        os.environ["JUPYTER_THINK_DIR"] = str(Path(scratch) / "store")
        os.environ["IPYTHONDIR"] = str(Path(scratch) / "ipython")
        os.environ.pop("JUPYTER_THINK_STORE", None)
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        )
        client.execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)  # a random model id
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


def main(names: list[str]) -> None:
    for name in names or NOTEBOOKS:
        path = HERE / name
        refresh(path)
        print(f"refreshed {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
