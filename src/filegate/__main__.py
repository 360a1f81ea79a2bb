from filegate.cli.main import main

main()
