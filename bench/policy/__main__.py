from bench.policy import main

main()
