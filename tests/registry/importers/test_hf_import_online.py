"""`import hf` through huggingface_hub against a Hub-compatible API served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import hf_cards
import huggingface_hub.constants
import pytest
from hub_server import HubFile, HubRepo, HubServer, serve_hub
from import_fixtures import safetensors_bytes, sha256

from registry.catalog.entries import Catalog, HuggingFaceSource
from registry.importers import import_hf
from registry.importers.errors import FetchError, HashMismatchError, ModelCardError, PickleOnlyError
from registry.vocabulary import ArtifactKind

TURBO_SHA = "1" * 40
LORA_SHA = "2" * 40
LORA = safetensors_bytes("lora_A")
BIG_WEIGHTS = b"LFS weights are pinned from metadata, never downloaded"

REPOS = {
    "fal/FLUX.2-dev-Turbo": HubRepo(
        sha=TURBO_SHA,
        files={
            ".gitattributes": HubFile(b"*.safetensors filter=lfs"),
            "README.md": HubFile(hf_cards.FLUX2_TURBO.encode()),
            "flux.2-turbo-lora.safetensors": HubFile(BIG_WEIGHTS, lfs=True),
        },
        card_data={"license": "other", "license_name": "flux-dev-non-commercial-license"},
        tags=["diffusers", "lora", "base_model:adapter:black-forest-labs/FLUX.2-dev", "license:other"],
        gated="manual",
    ),
    "someone/sks-dog-flux-lora": HubRepo(
        sha=LORA_SHA,
        files={
            "README.md": HubFile(hf_cards.NOISY_APACHE_LORA.encode()),
            "sks_dog.safetensors": HubFile(LORA),
        },
        tags=["lora", "license:apache-2.0"],
    ),
    "someone/corrupt-lora": HubRepo(
        sha=LORA_SHA,
        files={
            "README.md": HubFile(hf_cards.NOISY_APACHE_LORA.encode()),
            "l.safetensors": HubFile(LORA, blob_id="0" * 40),
        },
    ),
    "someone/pickle-lora": HubRepo(
        sha=LORA_SHA,
        files={
            "README.md": HubFile(hf_cards.NOISY_APACHE_LORA.encode()),
            "pytorch_lora_weights.bin": HubFile(b"pickle", lfs=True),
        },
    ),
    "someone/deep-index": HubRepo(
        sha=LORA_SHA,
        files={
            "README.md": HubFile(hf_cards.NOISY_APACHE_LORA.encode()),
            "model_index.json": HubFile(b"[" * 100_000 + b"]" * 100_000),  # past the decoder's recursion
            "l.safetensors": HubFile(LORA, lfs=True),
        },
    ),
    "someone/broken-card": HubRepo(
        sha=LORA_SHA,
        files={
            "README.md": HubFile(hf_cards.MALFORMED_YAML.encode()),
            "l.safetensors": HubFile(LORA, lfs=True),
        },
    ),
}


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubServer]:
    with serve_hub(REPOS) as server:
        yield server


@pytest.fixture
def hub(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> HubServer:
    # The suite runs offline (HF_HUB_OFFLINE=1, read once at import); only these tests go online,
    # and only to loopback.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    hub_server.requests.clear()
    return hub_server


def test_turbo_lora_pinned_from_model_info(hub: HubServer, catalog: Catalog) -> None:
    result = import_hf("fal/FLUX.2-dev-Turbo", catalog, endpoint=hub.endpoint, token=False)
    artifact = result.artifact
    assert artifact.kind is ArtifactKind.ADAPTER
    assert artifact.license == "flux-dev-ncl@2.0"
    assert artifact.bases == ("black-forest-labs/FLUX.2-dev",)
    assert artifact.gated == "manual"
    assert artifact.recommended is not None
    assert artifact.recommended.steps == 8
    assert artifact.recommended.weight_name == "flux.2-turbo-lora.safetensors"
    source = artifact.source
    assert isinstance(source, HuggingFaceSource)
    assert source.revision == TURBO_SHA
    assert [(f.name, f.sha256) for f in source.files] == [
        ("flux.2-turbo-lora.safetensors", sha256(BIG_WEIGHTS))
    ]
    assert result.origin == f"hub {hub.endpoint}"
    assert "GET /api/models/fal/FLUX.2-dev-Turbo" in hub.requests
    assert not any(r.endswith(".safetensors") for r in hub.requests)


def test_apache_tagged_lora_online_is_flagged(hub: HubServer, catalog: Catalog) -> None:
    result = import_hf(f"someone/sks-dog-flux-lora@{LORA_SHA}", catalog, endpoint=hub.endpoint, token=False)
    assert result.artifact.declared_license == "apache-2.0"
    assert result.artifact.license == "flux-dev-ncl@1.1.1"
    assert result.artifact.license_flags == ("declared_more_permissive_than_base",)
    source = result.artifact.source
    assert isinstance(source, HuggingFaceSource)
    assert source.files[0].sha256 == sha256(LORA)  # non-LFS: downloaded and hashed


@pytest.mark.parametrize(
    ("repo", "error", "message"),
    [
        ("someone/corrupt-lora", HashMismatchError, "do not match git blob"),
        ("someone/pickle-lora", PickleOnlyError, "pytorch_lora_weights.bin"),
        ("someone/broken-card", ModelCardError, "malformed YAML"),
        ("someone/deep-index", FetchError, "model_index.json is not JSON: maximum recursion depth"),
        ("someone/absent", FetchError, "repository not found"),
        ("fal/FLUX.2-dev-Turbo@v9", FetchError, "revision not found"),
    ],
)
def test_online_bad_input(
    hub: HubServer, catalog: Catalog, repo: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        import_hf(repo, catalog, endpoint=hub.endpoint, token=False)


def test_offline_mode_is_a_precise_error(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FetchError, match="offline mode"):
        import_hf("fal/FLUX.2-dev-Turbo", catalog, endpoint="http://127.0.0.1:9", token=False)
