from retsctl.cli.app import main

main()
