"""The remembered path of `evaluate` and the decision ids, in C (`_remembered.c`)."""

from typing import Any

from registry.policy.decision import PolicyDecision

class Memo:
    """Values by keys of plain values, in C (`_memo.c`; `keys.Memo`)."""

    def get(self, key: object) -> Any:
        """The value kept under `key`, or None."""

    def keep(self, key: object, value: object, limit: int) -> None:
        """Keep `value` under `key`, starting afresh once `limit` entries are kept."""

    def clear(self) -> None: ...
    def __len__(self) -> int: ...

class Doorkeeper:
    """The hashes of the requests a `PolicyEngine` has seen asked, in C (`_remembered.c`): at
    most `limit` of them, all forgotten at once when one more comes."""

    def __init__(self, limit: int) -> None: ...
    def note(self, request: Any) -> int | None:
        """None when the request's key was not noted (it is now), else the key's hash."""

    def first_ask(self, request: Any, snapshot: Any) -> PolicyDecision | int | None:
        """`note`, and for a first ask with no alternatives to search for and a runner named,
        the C path's decision (`remembered`, handing over as it does); the key's hash when the
        request was asked before; None for a first ask it did not decide."""

    def key_hash(self, request: Any) -> int:
        """The hash of the request's key, as `note` works it out."""

    def clear(self) -> None: ...
    def __len__(self) -> int: ...

def huge_page_arenas(reserve: int) -> bool:
    """pymalloc's arenas from a region of `reserve` bytes marked MADV_HUGEPAGE (`_arenas.c`)."""

def arenas_in_region() -> int:
    """pymalloc arenas in use that came from the huge-page region."""

def configure(parts: dict[str, Any]) -> None:
    """The engine's types (their fields' offsets are read once) and the objects the path uses."""

def sha1_state(data: bytes) -> bytes:
    """OpenSSL's SHA-1 state after `data`, as bytes: valid in this process only."""

def uuid5_after(state: bytes, body: bytes) -> str:
    """The uuid5 text of SHA-1(the state's data + `body`): version 5, variant RFC 9562."""

def remembered(
    request: Any, snapshot: Any, runner_id: str | None, windows: list[Any] | None
) -> PolicyDecision | None:
    """`_evaluate_on(request, snapshot, runner_id, True, windows)`: None when a part it reads
    before the remembered decision is not remembered, or when `windows` is given and no decision
    it may answer with is remembered; without windows, it hands what it looked up to
    `evaluate._decided_on` where it finds no such decision."""
