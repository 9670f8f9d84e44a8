from bench.floor.app import main

main()
