"""Run a notebook headless and write it as self-contained HTML (charts inlined), viewable without Jupyter.

    .venv/bin/python notebooks/render.py [--notebook notebooks/campaign-analysis.ipynb] [--cwd DIR]
                                         [--html OUT.html] [--executed OUT.ipynb] [--timeout SECONDS]

The kernel runs in --cwd (default: the working directory), where it finds the catalog as the CLI does
(./lakehouse.config.json, $LAKEHOUSE_CONFIG, else ./warehouse/catalog.db), and imports the helpers beside
the notebook. A cell that fails stops the run with its error and exit status 1.
"""
import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebook", default=str(HERE / "campaign-analysis.ipynb"))
    p.add_argument("--cwd", default=os.getcwd())
    p.add_argument("--html", help="write the executed notebook as HTML here")
    p.add_argument("--executed", help="write the executed notebook (.ipynb with outputs) here")
    p.add_argument("--timeout", type=int, default=600, help="seconds one cell may take")
    a = p.parse_args()

    notebook = Path(a.notebook).resolve()
    nb = nbformat.read(notebook, as_version=4)
    # The kernel inherits this environment: the helpers beside the notebook become importable.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(notebook.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    client = NotebookClient(nb, timeout=a.timeout, kernel_name="python3", resources={"metadata": {"path": a.cwd}})
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"render.py: {notebook.name} failed in a cell (run in {a.cwd}):\n{e}", file=sys.stderr)
        return 1
    finally:
        if a.executed:
            nbformat.write(nb, a.executed)
    if a.html:
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
        Path(a.html).parent.mkdir(parents=True, exist_ok=True)
        Path(a.html).write_text(body, encoding="utf-8")
        print(f"render.py: wrote {a.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
