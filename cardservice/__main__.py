from cardservice.cli.main import main

main()
