"""git's filter for the notebooks (`make git-filter`): nbstripout, started in a fraction of the time.

nbstripout imports nbformat, which imports jsonschema, which compiles the URI grammar of `rfc3987-syntax`
(installed with JupyterLab) on import: about 2 of the 3 seconds nbstripout took per notebook on a 2-core
machine, paid once per notebook on every `git add`, `git diff`, `git stash` or `make update`. Stripping
outputs never checks a URI, so jsonschema is told that module is missing (it then skips that one format
check) and nbstripout runs as it is, with the arguments given.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # `import rfc3987_syntax` now raises ImportError

from nbstripout import main  # noqa: E402

if __name__ == "__main__":
    main()
