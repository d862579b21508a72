from mlfix.cli import main

main()
