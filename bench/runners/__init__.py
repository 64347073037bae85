"""Runner benchmarks: `python -m bench.runners` prints the local diffusers runner's figures (tiny
pipelines on this machine's CPU, or its GPU) and the HTTP client comparison for remote runners."""

from __future__ import annotations


def main() -> None:
    from bench.runners import http_clients, local_runner

    local_runner.main()
    if "http" in local_runner.chosen_parts():
        http_clients.main()
