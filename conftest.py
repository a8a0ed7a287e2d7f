"""Shared test set-up (at the root, so it holds for `pytest notebooks/...` too).

Notebooks run under nbval at test size: their heavy cells read ``ESTEACH_SIZE``
(``esteach.notebook.size``), and their stored outputs were built at ``small`` by
``tools/build_notebooks.py``. Set here, before nbval starts any kernel, which inherits it.
"""

import os

os.environ["ESTEACH_SIZE"] = "small"
