from provision.cli.commands import main

main()
