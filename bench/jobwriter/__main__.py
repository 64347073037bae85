from bench.jobwriter import main

main()
