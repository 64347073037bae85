from bench.e2e import main

main()
