"""One module per ``hlsgen`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
