from pmsync.cli import main

main()
