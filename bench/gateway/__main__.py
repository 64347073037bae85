from bench.gateway import main

main()
