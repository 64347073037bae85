# diffusers constructors are untyped and transformers config stubs lag their kwargs:
# mypy: disable-error-code="no-untyped-call,call-arg,arg-type"
"""Tiny random-weight pipelines of the real diffusers classes, built offline.

Tests, benchmarks and `clearance models build-demo` need pipelines that exercise the same code
paths as production weights (loading, sha256 pinning, LoRA injection, schedulers) without
gigabytes of downloads. Shapes follow diffusers' own fast tests (tests/pipelines/*); the FLUX.2
text encoders have 30 (Mistral 3) and 27 (Qwen 3) layers because the pipelines stack those
hidden states by default. Tokenizers are built in memory from a byte alphabet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import torch

from runners.modules import BUILDING_MODULES
from runners.task import AdapterSpec, LocalSource, ModelFamily, PipelineSpec

TINY_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily.SD1,
    ModelFamily.FLUX1,
    ModelFamily.FLUX2,
    ModelFamily.FLUX2_KLEIN,
)

# One template for both FLUX.2 text encoders: Mistral passes content as a list of parts, Qwen as a
# string (and `enable_thinking`).
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LORA_TARGETS: dict[ModelFamily, tuple[str, ...]] = {
    ModelFamily.SD1: ("to_q", "to_k", "to_v", "to_out.0"),
    ModelFamily.FLUX1: ("to_q", "to_k", "to_v", "to_out.0"),
    # FLUX.2 single-stream blocks fuse QKV and MLP into `to_qkv_mlp_proj` (as diffusers' tests note).
    ModelFamily.FLUX2: ("to_q", "to_k", "to_v", "to_out.0", "to_qkv_mlp_proj"),
    ModelFamily.FLUX2_KLEIN: ("to_q", "to_k", "to_v", "to_out.0", "to_qkv_mlp_proj"),
}


@dataclass(frozen=True)
class TinyModel:
    """A built pipeline and its adapters, described as the runner expects them."""

    pipeline: PipelineSpec
    adapters: tuple[AdapterSpec, ...]
    path: Path


@dataclass
class TinyModelSet:
    root: Path
    models: dict[ModelFamily, TinyModel] = field(default_factory=dict)

    def __getitem__(self, family: ModelFamily) -> TinyModel:
        return self.models[family]


def build_tiny_models(
    root: Path,
    families: tuple[ModelFamily, ...] = TINY_FAMILIES,
    adapters_per_family: int = 3,
    seed: int = 0,
) -> TinyModelSet:
    """Build `root/<family>/` pipelines and `root/<family>-lora-<i>/` adapters.

    Adapter ranks alternate 4 and 8 so hot-swapping with `target_rank=8` is exercised.
    """
    root.mkdir(parents=True, exist_ok=True)
    result = TinyModelSet(root=root)
    for number, family in enumerate(families):
        pipe_dir = root / family.value
        with BUILDING_MODULES:  # beside a runner's load, its parameters would be on meta
            pipe = _build_pipeline(family, seed + number)
        pipe.save_pretrained(pipe_dir, safe_serialization=True)
        spec = PipelineSpec(
            artifact_id=f"tiny-{family.value}",
            family=family,
            source=LocalSource(path=str(pipe_dir)),
            weights=weight_hashes(pipe_dir),
        )
        adapters = tuple(
            build_tiny_lora(
                pipe,
                family,
                root / f"{family.value}-lora-{i}",
                rank=4 if i % 2 == 0 else 8,
                seed=seed + 1000 * (number + 1) + i,
                artifact_id=f"tiny-{family.value}-lora-{i}",
            )
            for i in range(adapters_per_family)
        )
        result.models[family] = TinyModel(pipeline=spec, adapters=adapters, path=pipe_dir)
    return result


def build_tiny_lora(
    pipe: Any,
    family: ModelFamily,
    directory: Path,
    *,
    rank: int,
    seed: int,
    artifact_id: str,
    weight_name: str = "pytorch_lora_weights.safetensors",
    targets: tuple[str, ...] | None = None,
) -> AdapterSpec:
    """Save a random LoRA for `pipe`'s denoiser in the diffusers format `load_lora_weights` reads."""
    from peft import LoraConfig, get_peft_model_state_dict

    denoiser_name = "unet" if family is ModelFamily.SD1 else "transformer"
    denoiser = getattr(pipe, denoiser_name)
    adapter_name = f"build-{seed}"
    config = LoraConfig(
        r=rank, lora_alpha=rank, target_modules=list(targets or LORA_TARGETS[family]), init_lora_weights=False
    )
    with BUILDING_MODULES:
        denoiser.add_adapter(config, adapter_name=adapter_name)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in denoiser.named_parameters():
            if adapter_name in name and "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    layers = get_peft_model_state_dict(denoiser, adapter_name=adapter_name)
    denoiser.delete_adapters(adapter_name)
    directory.mkdir(parents=True, exist_ok=True)
    type(pipe).save_lora_weights(
        directory,
        weight_name=weight_name,
        safe_serialization=True,
        **{f"{denoiser_name}_lora_layers": layers},
    )
    return AdapterSpec(
        artifact_id=artifact_id,
        source=LocalSource(path=str(directory)),
        weight_name=weight_name,
        sha256=file_sha256(directory / weight_name),
    )


MANIFEST_NAME = "manifest.json"


def write_manifest(models: TinyModelSet) -> Path:
    """`manifest.json`: every pipeline and adapter as the `PipelineSpec`/`AdapterSpec` JSON the
    runner takes, so a demo catalog can pin them by sha256."""
    document = {
        family.value: {"pipeline": model.pipeline, "adapters": list(model.adapters)}
        for family, model in models.models.items()
    }
    path = models.root / MANIFEST_NAME
    path.write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2))
    return path


def read_manifest(root: Path) -> TinyModelSet:
    raw = msgspec.json.decode((root / MANIFEST_NAME).read_bytes())
    result = TinyModelSet(root=root)
    for family, entry in raw.items():
        pipeline = msgspec.convert(entry["pipeline"], PipelineSpec)
        adapters = tuple(msgspec.convert(a, AdapterSpec) for a in entry["adapters"])
        path = Path(pipeline.source.path) if isinstance(pipeline.source, LocalSource) else root / family
        result.models[ModelFamily(family)] = TinyModel(pipeline=pipeline, adapters=adapters, path=path)
    return result


def weight_hashes(pipeline_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(pipeline_dir).as_posix(): file_sha256(path)
        for path in sorted(pipeline_dir.rglob("*.safetensors"))
    }


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _build_pipeline(family: ModelFamily, seed: int) -> Any:
    builders = {
        ModelFamily.SD1: _sd1,
        ModelFamily.FLUX1: _flux1,
        ModelFamily.FLUX2: _flux2,
        ModelFamily.FLUX2_KLEIN: _flux2_klein,
    }
    torch.manual_seed(seed)
    return builders[family]()


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (what ByteLevel pre-tokenizers emit)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def _clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    specials = ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(specials)}
    for char in _byte_alphabet():
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    merges = [("a", "n</w>"), ("t", "h"), ("th", "e</w>")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _byte_bpe_tokenizer() -> Any:
    from transformers import Qwen2Tokenizer

    vocab = {char: i for i, char in enumerate(_byte_alphabet())}
    merges = [("Ġ", "a"), ("t", "h")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        vocab.setdefault(special, len(vocab))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, model_max_length=512)
    tokenizer.chat_template = _CHAT_TEMPLATE
    return tokenizer


def _t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    for char in "abcdefghijklmnopqrstuvwxyz0123456789":
        pieces += [(char, -3.0), ("▁" + char, -3.5)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def _flux_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )


def _flux2_vae() -> Any:
    from diffusers import AutoencoderKLFlux2

    return AutoencoderKLFlux2(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )


def _clip_text_encoder(vocab_size: int, **extra: Any) -> Any:
    """The tiny CLIP text encoder SD 1.x and FLUX.1 share (FLUX.1 adds a projection)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-5,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=vocab_size,
            max_position_embeddings=77,
            **extra,
        )
    )


def _sd1() -> Any:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

    unet = UNet2DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=2,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(4, 8),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=2,
    )
    tokenizer = _clip_tokenizer()
    text_encoder = _clip_text_encoder(len(tokenizer))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def _flux1() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
        guidance_embeds=True,
    )
    tokenizer = _clip_tokenizer()
    text_encoder = _clip_text_encoder(len(tokenizer), projection_dim=32)
    tokenizer_2 = _t5_tokenizer()
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
        )
    )
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_flux_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )


def _flux2_transformer(text_hidden: int, **extra: Any) -> Any:
    """The tiny transformer of FLUX.2 and FLUX.2 [klein]; it reads three text-encoder layers."""
    from diffusers import Flux2Transformer2DModel

    return Flux2Transformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=3 * text_hidden,
        timestep_guidance_channels=256,
        axes_dims_rope=[4, 4, 4, 4],
        **extra,
    )


def _flux2() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2Pipeline
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    tokenizer = _byte_bpe_tokenizer()
    hidden = 16
    config = Mistral3Config(
        text_config={
            "model_type": "mistral",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 24,
            "max_position_embeddings": 1024,
            "num_attention_heads": 2,
            "num_hidden_layers": 30,
            "num_key_value_heads": 1,
            "head_dim": 8,
            "rms_norm_eps": 1e-05,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "bos_token_id": 0,
            "eos_token_id": 0,
            "pad_token_id": 0,
        },
        vision_config={
            "model_type": "pixtral",
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
            "image_size": 30,
            "patch_size": 6,
            "num_channels": 3,
            "head_dim": 8,
        },
        image_seq_length=4,
        vision_feature_layer=-1,
        image_token_index=1,
    )
    transformer = _flux2_transformer(hidden)
    return Flux2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_flux2_vae(),
        text_encoder=Mistral3ForConditionalGeneration(config),
        tokenizer=tokenizer,
        transformer=transformer,
    )


def _flux2_klein() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _byte_bpe_tokenizer()
    hidden = 16
    config = Qwen3Config(
        intermediate_size=24,
        hidden_size=hidden,
        num_hidden_layers=27,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        vocab_size=len(tokenizer),
        max_position_embeddings=1024,
    )
    transformer = _flux2_transformer(hidden, guidance_embeds=False)
    return Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_flux2_vae(),
        text_encoder=Qwen3ForCausalLM(config),
        tokenizer=tokenizer,
        transformer=transformer,
    )
