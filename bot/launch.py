"""The `opsbot` console script: the collector paused while opsbot loads, then `bot.cli`.

Loading opsbot makes ~220,000 objects that live as long as the process and almost no
garbage, yet the cyclic collector, run every 700 allocations, walks them again and again: a
fifth of the import time on the bench VM (1.34 s → 1.07 s, median of 10 alternated
processes). `app.startup` resumes it as it begins (`gc_resume`), before the database is
opened or migrated.
"""

import gc


def main() -> int:
    """Pause the collector, then run the command line."""
    gc.disable()
    try:
        from bot.cli import main as cli_main

        return cli_main()
    finally:
        gc.enable()  # a command that ends (check, db …) or a run that stops


def gc_resume() -> None:
    """Once a paused start has loaded opsbot: what loading made is kept out of the collector's
    sight (`gc.freeze`: modules, classes and functions live as long as the process, and the
    first collection would walk all of them, ~80 ms) and collection resumes. The ~2,000
    objects loading left unreachable stay with them (a few hundred kB). Nothing to do when it
    was never paused (tests)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
