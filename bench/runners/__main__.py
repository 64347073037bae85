from bench.runners import main

main()
