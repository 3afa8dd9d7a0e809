"""The `ctstack` console script's entry point, kept free of imports.

Worker processes that convert files are spawned, and a spawned process imports the main
script again; this module lets that cost nothing, where importing the CLI (typer, rich, the
Elasticsearch client) would cost each worker about 0.25 s and 20 MB.
"""


def main() -> None:
    from provision.cli.commands import main as cli_main

    return cli_main()
