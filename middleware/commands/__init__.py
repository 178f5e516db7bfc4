"""One module per ``soundscape`` subcommand.

Each module defines ``NAME`` (the subcommand), ``HELP`` (one line for ``--help``),
``add_arguments(parser)`` and ``run(args) -> int``. ``middleware.cli`` discovers them, so adding a
subcommand never means editing the dispatcher.
"""
