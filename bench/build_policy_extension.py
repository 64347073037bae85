"""Build the policy engine's C part in place, as the editable install does, on a machine where
the project is not installed (the device tool's GPU machine; see bench/gpu_check.sh).

It needs gcc, the Python headers and OpenSSL's. Where that machine lacks the headers, Ubuntu
24.04's libpython3.12-dev and libssl-dev unpacked into .devinc/ (ignored by git, carried) stand in:

    base=http://archive.ubuntu.com/ubuntu/pool/main
    for f in p/python3.12/libpython3.12-dev_3.12.3-1_amd64.deb \\
             o/openssl/libssl-dev_3.0.13-0ubuntu3_amd64.deb; do curl -sSO $base/$f; done
    for f in *.deb; do dpkg -x $f x; done; mkdir -p .devinc; cp -r x/usr/include .devinc/
"""

import subprocess
import sys
import sysconfig

SOURCES = ["registry/policy/_remembered.c", "registry/policy/_memo.c", "registry/policy/_arenas.c"]
CARRIED = [".devinc/include/python3.12", ".devinc/include", ".devinc/include/x86_64-linux-gnu"]


def main() -> int:
    target = ["-o", f"registry/policy/_remembered{sysconfig.get_config_var('EXT_SUFFIX')}"]
    installed = [f"-I{sysconfig.get_paths()['include']}", "-lcrypto"]
    carried = [*(f"-I{folder}" for folder in CARRIED), "-l:libcrypto.so.3"]
    for flags in (installed, carried):
        command = ["gcc", "-shared", "-fPIC", "-O2", "-Wall", *SOURCES, *flags, *target]
        if subprocess.run(command).returncode == 0:
            print("the policy engine's C part built with", " ".join(flags))
            return 0
    print("the policy engine's C part did not build", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
