"""Generate thpwatch's man pages (click-man) and bash completion (click's own) at build time.

    python3 debian/generate-docs.py VERSION OUTDIR

from the click command objects of the thpwatch being packaged (PYTHONPATH points at it), so
the pages and completion cannot drift from `thpwatch --help`. OUTDIR/man/thpwatch.1 and
thpwatch-SUBCOMMAND.1, OUTDIR/completion/thpwatch.
"""

import os
import subprocess
import sys
from pathlib import Path

from click_man.core import write_man_pages

from thpwatch.cli import main

version, out = sys.argv[1], Path(sys.argv[2])
(out / "man").mkdir(parents=True, exist_ok=True)
(out / "completion").mkdir(parents=True, exist_ok=True)

# thpwatch's group imports each subcommand only when it is used; click-man walks `.commands`.
main.commands = {name: main.get_command(None, name) for name in main.list_commands(None)}
write_man_pages("thpwatch", main, version=version, target_dir=str(out / "man"))

completion = subprocess.run(
    [sys.executable, "-c", "from thpwatch.cli import main; main(prog_name='thpwatch')"],
    env=dict(os.environ, _THPWATCH_COMPLETE="bash_source"),
    capture_output=True,
    text=True,
    check=True,
).stdout
if "complete -o nosort -F _thpwatch_completion thpwatch" not in completion:
    sys.exit(f"generate-docs: unexpected bash completion script from click:\n{completion}")
(out / "completion" / "thpwatch").write_text(completion)
