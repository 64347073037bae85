import sys

from bench.audit.run import main

if __name__ == "__main__":  # verification spawns worker processes that import this module
    sys.exit(main(sys.argv[1:]))
